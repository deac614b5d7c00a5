export { indexProgram } from './cli.js';
export type { IndexIo } from './cli.js';
export {
  describeIndex,
  formatBuildSummary,
  formatDedupSummary,
  formatIndexInfo,
  formatMatches,
} from './format-output.js';
export { count, formatBytes, formatProgressLine, formatSeconds } from './progress-line.js';
