export { formatSummary, type LocalRunOptions, type LocalRunSummary, runLocal } from './local-run.js';
