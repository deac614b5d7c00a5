import {
  buildManifest,
  encodeParquetShard,
  MANIFEST_KEY,
  type ObjectStore,
  serializeManifest,
  type ShardSummary,
  shardKeyFor,
} from 'vgg-pipeline';
import { float32ToFloat16 } from 'vgg-core';

/** Deterministic PRNG (mulberry32), so tests see the same vectors every time. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** n clustered vectors (Gaussian blobs around `clusters` random centres), row-major. */
export function clusteredVectors(
  n: number,
  dim: number,
  seed: number,
  clusters = 20,
  spread = 0.3,
): Float32Array {
  const random = seededRandom(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
  const centres = Float32Array.from({ length: clusters * dim }, gauss);
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(random() * clusters);
    for (let j = 0; j < dim; j++) out[i * dim + j] = (centres[c * dim + j] as number) + spread * gauss();
  }
  return out;
}

/**
 * Queries like the data: `count` rows of `data` (picked by seed) with Gaussian noise of `noise` per dimension, as a
 * photo near ones already indexed would be. (Queries from unrelated clusters are almost equidistant from everything,
 * where HNSW is not meant to be exact.)
 */
export function nearbyQueries(
  data: Float32Array,
  dim: number,
  count: number,
  seed: number,
  noise = 0.2,
): Float32Array {
  const random = seededRandom(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
  const n = data.length / dim;
  const out = new Float32Array(count * dim);
  for (let q = 0; q < count; q++) {
    const row = Math.floor(random() * n);
    for (let j = 0; j < dim; j++) out[q * dim + j] = (data[row * dim + j] as number) + noise * gauss();
  }
  return out;
}

/** One input of a synthetic run: an ok row with a vector, or a failed row. */
export type SyntheticRow =
  | { uri: string; vector: Float32Array; sha256?: string }
  | { uri: string; error: string };

/**
 * Writes a finished run output as the pipeline does (Parquet shards via encodeParquetShard, then _manifest.json),
 * with made-up vectors in one embedding column: for tests that need runs of exact, known vectors.
 */
export async function writeSyntheticRun(
  store: ObjectStore,
  options: {
    runId: string;
    tap: string;
    dim: number;
    dtype?: 'float32' | 'float16';
    chunkSize: number;
    rows: SyntheticRow[];
  },
): Promise<void> {
  const dtype = options.dtype ?? 'float32';
  const summaries: ShardSummary[] = [];
  for (let start = 0, chunk = 0; start < options.rows.length; start += options.chunkSize, chunk++) {
    const rows = options.rows.slice(start, start + options.chunkSize);
    const n = rows.length;
    const data = new Float32Array(n * options.dim);
    rows.forEach((row, i) => {
      if ('vector' in row) data.set(row.vector, i * options.dim);
    });
    const ok = rows.filter((r) => 'vector' in r).length;
    const errorsByReason: Record<string, number> = {};
    for (const r of rows) if ('error' in r) errorsByReason[r.error] = (errorsByReason[r.error] ?? 0) + 1;
    const key = shardKeyFor(chunk);
    await store.put(
      key,
      await encodeParquetShard({
        uri: rows.map((r) => r.uri),
        status: rows.map((r) => ('vector' in r ? 'ok' : 'error')),
        error: rows.map((r) => ('error' in r ? r.error : null)),
        width: rows.map((r) => ('vector' in r ? 1 : null)),
        height: rows.map((r) => ('vector' in r ? 1 : null)),
        sha256: rows.map((r) => ('vector' in r ? (r.sha256 ?? `sha-${r.uri}`) : null)),
        topK: {
          k: 1,
          classIds: new Int32Array(n),
          probs: new Float32Array(n).fill(1),
          labels: ['synthetic'],
        },
        embeddings: [
          {
            tap: options.tap,
            dim: options.dim,
            dtype,
            data: dtype === 'float16' ? float32ToFloat16(data) : data,
          },
        ],
        metadata: { 'vgg.run_id': options.runId },
      }),
    );
    summaries.push({ key, chunkIndex: chunk, rows: n, ok, error: n - ok, errorsByReason });
  }
  const manifest = buildManifest({
    runId: options.runId,
    createdAt: new Date(),
    model: {
      variant: 'synthetic',
      source: 'seeded',
      weightsSha256: '0'.repeat(64),
      untrained: true,
      seed: 0,
      providers: ['cpu'],
    },
    preprocessing: {},
    taps: [{ name: options.tap, dim: options.dim, dtype }],
    topK: 1,
    inputs: options.rows.length,
    shards: summaries,
  });
  await store.put(MANIFEST_KEY, serializeManifest(manifest), { contentType: 'application/json' });
}

/** Exact k nearest neighbours by brute force, in float64, with the index's distance definitions. */
export function bruteForce(
  data: Float32Array,
  query: Float32Array,
  dim: number,
  k: number,
  metric: 'cos' | 'ip' | 'l2',
): { id: number; distance: number }[] {
  const n = data.length / dim;
  let qq = 0;
  for (let j = 0; j < dim; j++) qq += (query[j] as number) ** 2;
  const all: { id: number; distance: number }[] = [];
  for (let i = 0; i < n; i++) {
    let dot = 0;
    let xx = 0;
    let l2 = 0;
    for (let j = 0; j < dim; j++) {
      const x = data[i * dim + j] as number;
      const q = query[j] as number;
      dot += x * q;
      xx += x * x;
      l2 += (x - q) ** 2;
    }
    const distance =
      metric === 'cos' ? 1 - dot / Math.sqrt(xx * qq) : metric === 'ip' ? 1 - dot : Math.sqrt(l2);
    all.push({ id: i, distance });
  }
  return all.sort((a, b) => a.distance - b.distance || a.id - b.id).slice(0, k);
}
