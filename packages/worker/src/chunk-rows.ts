import { redactUri, type ShardColumns } from 'vgg-pipeline';

/** One input's outcome inside a chunk. */
export interface RowResult {
  uri: string;
  /** WebDataset's `__key__` or the manifest's `--key-col`; absent or null for none. */
  key?: string | null;
  /** The input's kept columns (`--keep-cols`) by name; absent for none. */
  cols?: Readonly<Record<string, string | null>> | null;
  /** The result is another row's: its bytes (sha256) were inferred already in this run. */
  duplicate?: boolean;
  status: 'ok' | 'error';
  /** Reason code when status is error. */
  error: string | null;
  width: number | null;
  height: number | null;
  sha256: string | null;
  classIds: Int32Array | null;
  probs: Float32Array | null;
  embeddings: Record<string, Float32Array | Uint16Array> | null;
  /** A pair run's scores, in the order of the layout's `scores`; absent otherwise. */
  scores?: Float32Array | null;
}

export function errorRow(uri: string, reason: string, sha256: string | null = null): RowResult {
  return {
    uri,
    status: 'error',
    error: reason,
    width: null,
    height: null,
    sha256,
    classIds: null,
    probs: null,
    embeddings: null,
  };
}

export interface ColumnLayout {
  /** The run's kept columns, in order (the run contract's keptColumnsOf). */
  keepCols: readonly string[];
  topK: number;
  labels: readonly string[];
  taps: readonly { tap: string; dim: number; dtype: 'float32' | 'float16' }[];
  /** A pair run's score columns (perceptual_distance, ...); absent or empty otherwise. */
  scores?: readonly string[];
  metadata: Record<string, string>;
  /** The run's `--redact-params`, stripped from the `uri` column besides the built-in list. Default none. */
  redactParams?: readonly string[];
}

/** Lays rows out as the flat columns the Parquet encoder takes; error rows get zeros that the encoder nulls. */
export function rowsToColumns(rows: readonly RowResult[], layout: ColumnLayout): ShardColumns {
  const n = rows.length;
  const k = layout.topK;
  const classIds = new Int32Array(n * k);
  const probs = new Float32Array(n * k);
  const embeddings = layout.taps.map(({ tap, dim, dtype }) => ({
    tap,
    dim,
    dtype,
    data: dtype === 'float16' ? new Uint16Array(n * dim) : new Float32Array(n * dim),
  }));
  const scoreNames = layout.scores ?? [];
  const scores = scoreNames.map((name) => ({ name, values: new Float32Array(n) }));
  rows.forEach((row, i) => {
    if (row.status !== 'ok') return;
    scores.forEach((column, j) => {
      column.values[i] = row.scores?.[j] ?? Number.NaN;
    });
    if (row.classIds) classIds.set(row.classIds.subarray(0, k), i * k);
    if (row.probs) probs.set(row.probs.subarray(0, k), i * k);
    for (const emb of embeddings) {
      const values = row.embeddings?.[emb.tap];
      if (values) emb.data.set(values as Float32Array & Uint16Array, i * emb.dim);
    }
  });
  return {
    // Presigned signatures and user:password never reach the outputs.
    uri: rows.map((r) => redactUri(r.uri, layout.redactParams)),
    key: rows.map((r) => r.key ?? null),
    kept: layout.keepCols.map((name) => ({ name, values: rows.map((r) => r.cols?.[name] ?? null) })),
    status: rows.map((r) => r.status),
    error: rows.map((r) => r.error),
    width: rows.map((r) => r.width),
    height: rows.map((r) => r.height),
    sha256: rows.map((r) => r.sha256),
    topK: { k, classIds, probs, labels: layout.labels },
    embeddings,
    ...(scores.length > 0 ? { scalars: scores } : {}),
    metadata: layout.metadata,
  };
}
