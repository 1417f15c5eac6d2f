// Loads the CLI. Kept apart from sluice.cjs because `import()` is a syntax error on the oldest
// Nodes, which must get as far as the version check.
//
// The compile cache (Node ≥ 22.1; in the OS temporary folder unless NODE_COMPILE_CACHE says
// otherwise) keeps V8's compiled code of the modules between runs: a restarted worker — after a
// crash, say — is reading again sooner.

'use strict';

const { enableCompileCache } = require('node:module');
if (typeof enableCompileCache === 'function') enableCompileCache();
import('#main');
