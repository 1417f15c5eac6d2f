#!/usr/bin/env node
// The `sluice` command. It checks the Node.js version before anything else, in CommonJS that
// every Node parses, then loads the CLI (`#main`: the TypeScript sources in the repository, the
// compiled JavaScript in a published package; see the `imports` of package.json).

'use strict';

const problem = require('./node-check.cjs').nodeVersionProblem(process.versions.node, __dirname);
if (problem) {
  process.stderr.write(problem);
  process.exitCode = 1;
} else {
  require('./start.cjs');
}
