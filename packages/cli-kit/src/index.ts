// Public API of vgg-cli-kit: flag tables shared by vgg-model, vgg-producer, vgg-worker and vgg-local.
export { invalidFlag, isUsageError, UsageError } from './errors.js';
export { FlagSet, parseFlag } from './flag-set.js';
export type { FlagSetOptions } from './flag-set.js';
export {
  defaultOf,
  envName,
  expectedValue,
  findConflict,
  flagName,
  kebabCase,
  withDefaults,
} from './flag-table.js';
export type {
  BooleanFlag,
  ChoiceFlag,
  Env,
  FlagInput,
  FlagSpec,
  FlagTable,
  FlagValue,
  FlagValues,
  IntegerFlag,
  ListFlag,
  StringFlag,
} from './flag-table.js';
export { createLogger, LOG_FLAGS, LOG_LEVELS, redactUrisIn } from './logger.js';
export type { Logger, LoggerOptions, LogLevel } from './logger.js';
export { describeInteger, parseBoolean, parseChoice, parseInteger, parseList } from './parse.js';
export type { IntegerBounds } from './parse.js';
export { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, runCli } from './run-cli.js';
export type { RunCliOptions } from './run-cli.js';
