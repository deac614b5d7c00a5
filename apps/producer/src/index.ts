export {
  addRunOptions,
  parsePositiveInt,
  type RunCliSpec,
  type RunCliValues,
  runSpecFromCli,
} from './cli-options.js';
export {
  cancelRun,
  progressOf,
  RETRYABLE_REASONS,
  type RunControlDeps,
  RunNotFoundError,
  type RunProgress,
  retryFailed,
} from './run-control.js';
export { formatDuration, formatProgressBar, formatStatus } from './status-format.js';
export { type SubmitDeps, type SubmitOptions, type SubmitResult, submitRun } from './submit.js';
