// Loads the CLI. Kept apart from sluice.cjs because `import()` is a syntax error on the oldest
// Nodes, which must get as far as the version check.

'use strict';

import('#main');
