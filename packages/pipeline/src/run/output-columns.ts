import type { RunSpec } from './run-spec.js';

/**
 * The columns of a run's shards, in order: the input (`uri`, `key`), the columns the run keeps from its sources
 * (`--keep-cols`, text), the outcome (`status`, `error`, `width`, `height`, `sha256`), the predictions
 * (`top_k_*`) and one `emb_<tap>` per tap. Every shard of a run has the same columns.
 */
export const ROW_COLUMNS = [
  'uri',
  'key',
  'status',
  'error',
  'width',
  'height',
  'sha256',
  'top_k_class_ids',
  'top_k_labels',
  'top_k_probs',
] as const;

/** The kept columns of a run, in the order its `--keep-cols` named them. */
export function keptColumnsOf(spec: Pick<RunSpec, 'input'>): readonly string[] {
  return spec.input.keepCols;
}

const COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** What is wrong with a list of kept columns (a clash with the run's own columns, a repeat), or null. */
export function checkKeptColumns(names: readonly string[]): string | null {
  const seen = new Set<string>();
  for (const name of names) {
    if (!COLUMN_NAME.test(name))
      return 'column names of letters, digits, _, . and - (starting with a letter or _)';
    if ((ROW_COLUMNS as readonly string[]).includes(name) || name.startsWith('emb_')) {
      return `names other than the outputs' own columns (${ROW_COLUMNS.join(', ')}, emb_*)`;
    }
    if (seen.has(name)) return 'each column once';
    seen.add(name);
  }
  return null;
}
