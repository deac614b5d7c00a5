import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIndex, describeNeighbours, findDuplicates, IndexReader, storedVectorOf } from 'vgg-index';
import { openObjectStore, parseLocation } from 'vgg-pipeline';
import { createTestBucket, s3ClientForTests } from './support/s3.js';
import { bruteForce, clusteredVectors, nearbyQueries, writeSyntheticRun } from './support/synthetic-run.js';

// 3,000 × 1,024 float32 vectors: a 12.8 MB part file, so the upload takes the multipart path (8 MiB parts).
const N = 3_000;
const DIM = 1_024;
let bucket: string;
let cacheDir: string;
let data: Float32Array;

beforeAll(async () => {
  bucket = await createTestBucket();
  cacheDir = await mkdtemp(path.join(tmpdir(), 'vgg-index-cache-'));
  data = clusteredVectors(N, DIM, 11);
  // Two rows of identical bytes (same sha256) far apart in the run.
  const rows = Array.from({ length: N }, (_, i) => ({
    uri: `s3://${bucket}/photos/img-${i}.jpg`,
    vector: data.subarray(i * DIM, (i + 1) * DIM),
    ...(i === 5 || i === 2_900 ? { sha256: 'same-bytes' } : {}),
  }));
  const runStore = openObjectStore(parseLocation(`s3://${bucket}/out/run-a/`), { s3: s3ClientForTests() });
  await writeSyntheticRun(runStore, { runId: 'run-a', tap: 'fc7', dim: DIM, chunkSize: 500, rows });
});

afterAll(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

describe('vgg-index on S3', () => {
  it('builds from a run on S3 into S3, then queries the index back through a verified local cache', async () => {
    const s3 = s3ClientForTests();
    const out = `s3://${bucket}/indexes/fc7/`;
    const built = await buildIndex(
      {
        run: `s3://${bucket}/out/run-a/`,
        tap: 'fc7',
        out,
        quantization: 'f32',
        maxPartVectors: 2_000,
        threads: 1,
      },
      { s3 },
    );
    expect(built.uri).toBe(`s3://${bucket}/indexes/fc7/`);
    expect(built.manifest.run.uri).toBe(`s3://${bucket}/out/run-a/`);
    expect(built.manifest.parts.map((p) => p.vectors)).toEqual([2_000, 1_000]);
    expect(built.manifest.parts[0]?.indexBytes).toBeGreaterThan(8 * 2 ** 20);

    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'indexes/fc7/' }));
    const keys = (listed.Contents ?? []).map((o) => o.Key?.replace('indexes/fc7/', '')).sort();
    expect(keys).toEqual(
      ['index.json', ...built.manifest.parts.flatMap((p) => [p.indexKey, p.rowsKey])].sort(),
    );

    // Built with one insert thread (every vector reachable) and searched as wide as the largest part (ef 2,000), the
    // search visits every vector, so results must equal brute force.
    const reader = await IndexReader.open(out, { cacheDir, expansionSearch: 2_000 }, { s3 });
    // Parts were downloaded once, named by their sha256.
    const cached = (await readdir(cacheDir)).sort();
    expect(cached).toEqual(built.manifest.parts.map((p) => `${p.indexSha256}.usearch`).sort());
    for (const part of built.manifest.parts) {
      expect((await stat(path.join(cacheDir, `${part.indexSha256}.usearch`))).size).toBe(part.indexBytes);
    }

    const queries = nearbyQueries(data, DIM, 5, 12);
    const results = await describeNeighbours(reader, await reader.search(reader.prepareQueries(queries), 10));
    for (let q = 0; q < 5; q++) {
      const expected = bruteForce(data, queries.subarray(q * DIM, (q + 1) * DIM), DIM, 10, 'cos');
      expect(results[q]?.map((m) => m.id)).toEqual(expected.map((n) => n.id));
      expect(results[q]?.map((m) => m.uri)).toEqual(
        expected.map((n) => `s3://${bucket}/photos/img-${n.id}.jpg`),
      );
    }

    const stored = await storedVectorOf(reader, `s3://${bucket}/photos/img-2500.jpg`, { s3 });
    const [self] = await reader.search(reader.prepareQueries(stored?.vector as Float32Array), 1);
    expect(self?.[0]?.id).toBe(2_500);
    reader.close();

    // A damaged cache file (wrong size) is downloaded again and verified before use.
    const part0 = built.manifest.parts[0];
    const cachedFile = path.join(cacheDir, `${part0?.indexSha256}.usearch`);
    await writeFile(cachedFile, 'damaged');
    const again = await IndexReader.open(out, { cacheDir }, { s3 });
    expect(again.size).toBe(N);
    expect((await stat(cachedFile)).size).toBe(part0?.indexBytes);
    again.close();

    // Dedup writes its Parquet beside the index, on S3; the two rows with equal sha256 form one cluster.
    const dups = await findDuplicates({ index: out, threshold: 0, cacheDir }, { s3 });
    expect(dups.out).toBe(`s3://${bucket}/indexes/fc7/dedup/`);
    expect(dups.pairs).toEqual([{ a: 5, b: 2_900, distance: null, match: 'exact' }]);
    expect(dups.clusters.map((m) => [m.cluster, m.id, m.size])).toEqual([
      [5, 5, 2],
      [5, 2_900, 2],
    ]);
    const written = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'indexes/fc7/dedup/' }));
    expect((written.Contents ?? []).map((o) => o.Key).sort()).toEqual([
      'indexes/fc7/dedup/clusters.parquet',
      'indexes/fc7/dedup/pairs.parquet',
      'indexes/fc7/dedup/summary.json',
    ]);
  });
});
