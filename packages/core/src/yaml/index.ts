/**
 * The YAML front end: pipeline files to plans, with every error located in the file.
 */

export { ConfigErrors } from '../errors.ts';
export { componentPath, locate, locateIn } from '../plan/locate.ts';
export { type Env, interpolate } from './interpolate.ts';
export type { Position } from './issues.ts';
export { type LoadOptions, loadPipelineFile, parsePipelineYaml } from './load.ts';
