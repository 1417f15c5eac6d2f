// Which Node.js versions can run Sluice, and what to tell someone whose Node cannot.
//
// Plain CommonJS in the syntax of 2015 on purpose: `sluice.cjs` requires this before anything
// else, so that an old Node prints a hint instead of a syntax or file-extension error. The
// versions come from `engines.node` of this package's package.json, the one statement of them.

'use strict';

/** The supported Node.js versions, e.g. "^22.18.0 || ^24.0.0 || ^26.0.0". */
const supported = require('../package.json').engines.node;

/** The oldest supported version: the first one `supported` names. */
const minimum = /\d+\.\d+\.\d+/.exec(supported)[0];

/** The supported release lines, e.g. "22, 24 and 26". */
const lines = supported
  .match(/\d+(?=\.\d+\.\d+)/g)
  .join(', ')
  .replace(/, (\d+)$/, ' and $1');

/** Compares two versions ("22.18.0") by major, minor and patch. */
function compare(a, b) {
  const x = String(a).split('.');
  const y = String(b).split('.');
  for (let i = 0; i < 3; i++) {
    const d = (Number(x[i]) || 0) - (Number(y[i]) || 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The message for a Node that cannot run Sluice (older than `minimum`), or `undefined`. Newer
 * Nodes than the supported lines are let through. `binDir` is the real folder of the running
 * bin: in a checkout of the repository (not under node_modules) the message points at the
 * pinned Node of the npm scripts, otherwise at how to install a supported one.
 */
function nodeVersionProblem(version, binDir) {
  if (compare(version, minimum) >= 0) return undefined;
  const what =
    'sluice: this is Node.js ' +
    version +
    ', and Sluice needs Node.js ' +
    minimum +
    ' or later (supported: the LTS lines ' +
    lines +
    ').\n';
  if (binDir.split(/[\\/]/).indexOf('node_modules') === -1) {
    return (
      what +
      'In the Sluice repository, run it as `npm run sluice -- <command>`: npm scripts use the ' +
      'Node 24 that `npm ci` installs (pinned in devDependencies), whatever the system Node is.\n'
    );
  }
  return (
    what +
    'Install Node.js 24 LTS (https://nodejs.org/en/download, or `nvm install 24` with nvm) and ' +
    'run sluice again.\n'
  );
}

module.exports = { supported: supported, minimum: minimum, nodeVersionProblem: nodeVersionProblem };
