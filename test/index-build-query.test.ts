import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildIndex,
  IndexError,
  IndexReader,
  type IndexMetric,
  openIndexedRun,
  storedVectorOf,
} from 'vgg-index';
import { LocalObjectStore, readShardUris } from 'vgg-pipeline';
import {
  bruteForce,
  clusteredVectors,
  nearbyQueries,
  type SyntheticRow,
  writeSyntheticRun,
} from './support/synthetic-run.js';

// No S3 here: local directories only (s3 is never opened).
const deps = { s3: () => expect.unreachable('S3 opened for a local test') as never };

let root: string;
const DIM = 32;
const N = 600;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'vgg-index-test-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A run of N clustered vectors in shards of 50 rows, every 37th row a failed input (no vector). */
async function syntheticRun(name: string, vectors: Float32Array, dtype: 'float32' | 'float16' = 'float32') {
  const dir = path.join(root, name);
  const rows: SyntheticRow[] = [];
  let next = 0;
  for (let i = 0; next < vectors.length / DIM; i++) {
    if (i % 37 === 36) rows.push({ uri: `s3://photos/broken-${i}.jpg`, error: 'corrupt' });
    else {
      rows.push({ uri: `s3://photos/img-${i}.jpg`, vector: vectors.subarray(next * DIM, (next + 1) * DIM) });
      next++;
    }
  }
  await writeSyntheticRun(new LocalObjectStore({ dir }), {
    runId: name,
    tap: 'fc7',
    dim: DIM,
    dtype,
    chunkSize: 50,
    rows,
  });
  return { dir, rows };
}

function normalise(vectors: Float32Array): Float32Array {
  const out = Float32Array.from(vectors);
  for (let i = 0; i < out.length / DIM; i++) {
    const row = out.subarray(i * DIM, (i + 1) * DIM);
    const norm = Math.hypot(...row);
    for (let j = 0; j < DIM; j++) row[j] = (row[j] as number) / norm;
  }
  return out;
}

describe('vgg-index build and query', () => {
  for (const metric of ['cos', 'ip', 'l2'] as IndexMetric[]) {
    it(`finds exactly the brute-force neighbours and distances (${metric}, f32, three parts merged)`, async () => {
      // ip is meant for unit vectors; cos and l2 get raw ones.
      const data = metric === 'ip' ? normalise(clusteredVectors(N, DIM, 1)) : clusteredVectors(N, DIM, 1);
      const run = await syntheticRun(`exact-${metric}`, data);
      const out = path.join(root, `index-${metric}`);
      // One insert thread: usearch 2.25's concurrent inserts leave a few nodes per thousand unreachable (measured:
      // ~0.3% of 250 random vectors with 2 threads, none with 1), and no search can then find them.
      const built = await buildIndex(
        { run: run.dir, tap: 'fc7', out, metric, quantization: 'f32', maxPartVectors: 250, threads: 1 },
        deps,
      );
      // Shards of 50 rows (about 49 ok) are never split, so three parts of at most 250 vectors.
      expect(built.manifest.parts).toHaveLength(3);
      for (const part of built.manifest.parts) expect(part.vectors).toBeLessThanOrEqual(250);
      expect(built.manifest.counts).toEqual({
        vectors: N,
        rows: run.rows.length,
        errorRows: run.rows.length - N,
        skippedRows: 0,
      });

      // ef as large as a part makes the search visit every vector: HNSW must then agree exactly.
      const reader = await IndexReader.open(out, { expansionSearch: 250 }, deps);
      const near = nearbyQueries(data, DIM, 30, 2);
      const queries = metric === 'ip' ? normalise(near) : near;
      const results = await reader.search(reader.prepareQueries(queries), 10);
      for (let q = 0; q < 30; q++) {
        const expected = bruteForce(data, queries.subarray(q * DIM, (q + 1) * DIM), DIM, 10, metric);
        expect(results[q]?.map((n) => n.id)).toEqual(expected.map((n) => n.id));
        results[q]?.forEach((n, i) => {
          expect(n.distance).toBeCloseTo(expected[i]?.distance as number, 4);
        });
      }
      reader.close();
    });
  }

  it('maps every id back to its run row through the sidecar, and reads the same vector back from the run', async () => {
    const data = clusteredVectors(N, DIM, 3);
    const run = await syntheticRun('sidecar', data);
    const out = path.join(root, 'index-sidecar');
    await buildIndex({ run: run.dir, tap: 'fc7', out, maxPartVectors: 200 }, deps);
    const reader = await IndexReader.open(out, {}, deps);
    const runStore = new LocalObjectStore({ dir: run.dir });
    const ok = run.rows.filter((r) => 'vector' in r);
    let id = 0;
    for (const part of reader.manifest.parts) {
      const rows = await reader.partRows(part);
      for (const row of rows) {
        expect(row.id).toBe(id);
        expect(row.uri).toBe(ok[id]?.uri);
        expect(row.sha256).toBe(`sha-${ok[id]?.uri}`);
        // (key, row) addresses the same input in the run's shard.
        expect((await readShardUris(await runStore.get(row.key)))[row.row]).toBe(row.uri);
        expect(row.key).toBe(`shards/chunk-${String(row.shard).padStart(6, '0')}.parquet`);
        id++;
      }
      // Random access by id reads the same rows.
      const some = [part.firstId, part.firstId + part.vectors - 1];
      const byId = await reader.rows(some);
      expect(some.map((i) => byId.get(i)?.uri)).toEqual(some.map((i) => ok[i]?.uri));
    }
    expect(id).toBe(N);

    const stored = await storedVectorOf(reader, ok[123]?.uri as string, deps);
    expect(stored?.row.id).toBe(123);
    expect([...(stored?.vector ?? [])]).toEqual([...data.subarray(123 * DIM, 124 * DIM)]);
    expect(await storedVectorOf(reader, 's3://photos/broken-36.jpg', deps)).toBeNull();
    reader.close();
  });

  it('reads float16 columns, records that the run L2-normalised, and normalises queries for ip', async () => {
    const data = normalise(clusteredVectors(200, DIM, 4));
    const run = await syntheticRun('half', data, 'float16');
    const out = path.join(root, 'index-half');
    const built = await buildIndex({ run: run.dir, tap: 'fc7', out, metric: 'ip' }, deps);
    expect(built.manifest.l2Normalized).toBe(true);
    expect(built.manifest.tap.dtype).toBe('float16');
    const reader = await IndexReader.open(out, {}, deps);
    const query = data.slice(7 * DIM, 8 * DIM).map((v) => v * 5);
    const [found] = await reader.search(reader.prepareQueries(query), 1);
    expect(found?.[0]?.id).toBe(7);
    expect(Math.abs(found?.[0]?.distance as number)).toBeLessThan(2e-3);
    reader.close();
  });

  it('leaves all-zero vectors out of a cos index and counts them', async () => {
    const data = clusteredVectors(100, DIM, 5);
    data.fill(0, 10 * DIM, 12 * DIM);
    const run = await syntheticRun('zeros', data);
    const built = await buildIndex({ run: run.dir, tap: 'fc7', out: path.join(root, 'index-zeros') }, deps);
    expect(built.manifest.counts.skippedRows).toBe(2);
    expect(built.manifest.counts.vectors).toBe(98);
  });

  it('refuses to replace an index unless asked, and a rebuild removes the old parts', async () => {
    const run = await syntheticRun('rebuild', clusteredVectors(100, DIM, 6));
    const out = path.join(root, 'index-rebuild');
    const first = await buildIndex({ run: run.dir, tap: 'fc7', out }, deps);
    await expect(buildIndex({ run: run.dir, tap: 'fc7', out }, deps)).rejects.toMatchObject({
      code: 'INDEX_EXISTS',
    });
    const second = await buildIndex({ run: run.dir, tap: 'fc7', out, overwrite: true }, deps);
    expect(second.manifest.buildId).not.toBe(first.manifest.buildId);
    const files: string[] = [];
    for await (const entry of new LocalObjectStore({ dir: out }).list('parts/')) files.push(entry.key);
    expect(files.sort()).toEqual(
      [second.manifest.parts[0]?.indexKey, second.manifest.parts[0]?.rowsKey].sort(),
    );
  });

  it('stops when aborted and leaves no files behind', async () => {
    const run = await syntheticRun('abort', clusteredVectors(300, DIM, 10));
    const out = path.join(root, 'index-abort');
    const controller = new AbortController();
    const build = buildIndex(
      {
        run: run.dir,
        tap: 'fc7',
        out,
        maxPartVectors: 100,
        signal: controller.signal,
        // Abort in the second part, after the first part's files were published.
        onProgress: (p) => {
          if (p.part === 1) controller.abort(new Error('stop'));
        },
      },
      deps,
    );
    await expect(build).rejects.toThrow('stop');
    const files: string[] = [];
    for await (const entry of new LocalObjectStore({ dir: out }).list('')) files.push(entry.key);
    expect(files).toEqual([]);
  });

  it('explains what is wrong with the run: no manifest, a missing tap', async () => {
    const run = await syntheticRun('errors', clusteredVectors(60, DIM, 7));
    await expect(buildIndex({ run: root, tap: 'fc7', out: path.join(root, 'x') }, deps)).rejects.toThrow(
      /No _manifest.json in .*give the directory of one finished run/,
    );
    const error = await buildIndex({ run: run.dir, tap: 'pool5', out: path.join(root, 'y') }, deps).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(IndexError);
    expect(error).toMatchObject({
      code: 'INDEX_RUN_INVALID',
      message: 'Run errors has no tap "pool5"; it has fc7',
    });
  });

  it('refuses stored vectors once the run was rewritten after the build', async () => {
    const run = await syntheticRun('stale', clusteredVectors(60, DIM, 8));
    const out = path.join(root, 'index-stale');
    await buildIndex({ run: run.dir, tap: 'fc7', out }, deps);
    await syntheticRun('stale', clusteredVectors(60, DIM, 9));
    const reader = await IndexReader.open(out, {}, deps);
    await expect(openIndexedRun(reader.manifest, deps)).rejects.toMatchObject({ code: 'INDEX_STALE' });
    reader.close();
  });
});
