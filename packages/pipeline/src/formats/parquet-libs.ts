// Apache Arrow and parquet-wasm take about 0.2 s to import, more than the rest of this package's dependencies
// together. Most processes never need them (a producer, a worker until its first commit, `status`), and every
// process start is on the critical path of a small job, so they are loaded on first use.
import type * as Arrow from 'apache-arrow';
import type * as ParquetWasm from 'parquet-wasm';

export interface ParquetLibs {
  arrow: typeof Arrow;
  parquet: typeof ParquetWasm;
}

let loading: Promise<ParquetLibs> | undefined;

/** Apache Arrow and parquet-wasm, imported once per process on first call. */
export function parquetLibs(): Promise<ParquetLibs> {
  loading ??= Promise.all([import('apache-arrow'), import('parquet-wasm')]).then(([arrow, parquet]) => ({
    arrow,
    parquet,
  }));
  return loading;
}
