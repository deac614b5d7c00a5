export { indexOption, parseNonNegativeNumber, parsePositiveInt } from './cli-flags.js';
export { describeIndex, formatBuildSummary, formatDedupSummary, formatMatches } from './format-output.js';
export { count, formatBytes, formatProgressLine, formatSeconds } from './progress-line.js';
