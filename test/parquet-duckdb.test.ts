import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { encodeParquetShard, readParquetShardRowCount, S3ObjectStore, type ShardColumns } from 'vgg-pipeline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestBucket, s3ClientForTests } from './support/s3.js';

const ROWS = 1_000;
const DIM = 4096;
const HALF_DIM = 512;
let dir: string;

/** Float32 -> IEEE half bits, for values exactly representable in float16. */
function toHalfBits(value: number): number {
  const f32 = new Float32Array([value]);
  const bits = new Uint32Array(f32.buffer)[0] as number;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15;
  const mantissa = (bits >>> 13) & 0x3ff;
  if (value === 0) return sign;
  return sign | (exponent << 10) | mantissa;
}

function bigShard(): ShardColumns {
  const status = Array.from({ length: ROWS }, (_, i) => (i % 10 === 3 ? 'error' : 'ok') as 'ok' | 'error');
  const fc7 = new Float32Array(ROWS * DIM);
  for (let i = 0; i < fc7.length; i++) fc7[i] = Math.sin(i) * 4;
  const pool5 = new Uint16Array(ROWS * HALF_DIM);
  for (let i = 0; i < pool5.length; i++) pool5[i] = toHalfBits(((i % 64) - 32) / 8);
  const k = 5;
  const classIds = new Int32Array(ROWS * k).map((_, i) => (i * 7) % 1000);
  const probs = new Float32Array(ROWS * k).fill(0.2);
  return {
    uri: Array.from({ length: ROWS }, (_, i) => `s3://bucket/img/${i}.jpg`),
    status,
    error: status.map((s) => (s === 'error' ? 'decode' : null)),
    width: status.map((s, i) => (s === 'ok' ? 100 + i : null)),
    height: status.map((s, i) => (s === 'ok' ? 200 + i : null)),
    sha256: status.map((_, i) => i.toString(16).padStart(64, '0')),
    topK: { k, classIds, probs, labels: Array.from({ length: 1000 }, (_, i) => `class ${i}`) },
    embeddings: [
      { tap: 'fc7', dim: DIM, dtype: 'float32', data: fc7 },
      { tap: 'pool5', dim: HALF_DIM, dtype: 'float16', data: pool5 },
    ],
    metadata: { 'vgg.model': JSON.stringify({ variant: 'vgg16', weightsSha256: 'ab'.repeat(32) }) },
  };
}

let file: string;
let encoded: Uint8Array;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vgg-parquet-'));
  const shard = bigShard();
  const started = performance.now();
  encoded = await encodeParquetShard(shard);
  const ms = performance.now() - started;
  const rawMb = (ROWS * DIM * 4 + ROWS * HALF_DIM * 2) / 1e6;
  console.log(
    `encoded ${ROWS} rows (fc7 ${DIM}×f32 + pool5 ${HALF_DIM}×f16, ${rawMb.toFixed(1)} MB raw) in ${Math.round(ms)} ms -> ${(encoded.length / 1e6).toFixed(1)} MB zstd`,
  );
  file = path.join(dir, 'shard.parquet');
  await writeFile(file, encoded);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function query(sql: string): Promise<Record<string, unknown>[]> {
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  try {
    return (await connection.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}

describe('Parquet shards read by DuckDB', () => {
  it('exposes the documented columns with their types', async () => {
    const rows = await query(`DESCRIBE SELECT * FROM '${file}'`);
    expect(Object.fromEntries(rows.map((r) => [r.column_name, r.column_type]))).toEqual({
      uri: 'VARCHAR',
      key: 'VARCHAR',
      status: 'VARCHAR',
      error: 'VARCHAR',
      width: 'INTEGER',
      height: 'INTEGER',
      sha256: 'VARCHAR',
      top_k_class_ids: 'INTEGER[]',
      top_k_labels: 'VARCHAR[]',
      top_k_probs: 'FLOAT[]',
      // Parquet has no fixed-size list; DuckDB reads FixedSizeList as FLOAT[] and a cast gives FLOAT[dim].
      emb_fc7: 'FLOAT[]',
      // Float16 (Parquet FLOAT16 logical type) is widened to FLOAT on read.
      emb_pool5: 'FLOAT[]',
    });
    expect(await readParquetShardRowCount(encoded)).toBe(ROWS);
  });

  it('reads values, nulls for error rows, and casts embeddings to FLOAT[dim] for vector functions', async () => {
    const [summary] = await query(`
      SELECT count(*) AS n,
             count(*) FILTER (WHERE status = 'error' AND emb_fc7 IS NULL AND emb_pool5 IS NULL
                              AND top_k_labels IS NULL AND width IS NULL) AS error_rows,
             count(*) FILTER (WHERE len(emb_fc7) = ${DIM} AND len(emb_pool5) = ${HALF_DIM}) AS full_rows,
             max(array_cosine_similarity(emb_fc7::FLOAT[${DIM}], emb_fc7::FLOAT[${DIM}])) AS self_similarity
      FROM '${file}'`);
    expect(summary).toMatchObject({ n: BigInt(ROWS), error_rows: 100n, full_rows: 900n });
    expect(summary?.self_similarity as number).toBeCloseTo(1, 5);
    const [row] = await query(`
      SELECT uri, width, top_k_labels, emb_fc7[1] AS f1, emb_fc7[2] AS f2, emb_pool5[1] AS h1, emb_pool5[2] AS h2
      FROM '${file}' WHERE uri = 's3://bucket/img/1.jpg'`);
    expect(row).toMatchObject({ uri: 's3://bucket/img/1.jpg', width: 101 });
    expect((row?.top_k_labels as string[] | undefined)?.slice(0, 2)).toEqual(['class 35', 'class 42']);
    expect(row?.f1).toBeCloseTo(Math.sin(DIM) * 4, 5);
    expect(row?.f2).toBeCloseTo(Math.sin(DIM + 1) * 4, 5);
    // Row 1 starts at flat index 512 -> (512 % 64 - 32) / 8 = -4.
    expect(row?.h1).toBe(-4);
    expect(row?.h2).toBe(-3.875);
  });

  it('carries file metadata and writes no dictionary pages, compressed with zstd', async () => {
    const kv = await query(
      `SELECT decode(key) AS key, decode(value) AS value FROM parquet_kv_metadata('${file}')`,
    );
    const model = kv.find((r) => r.key === 'vgg.model');
    expect(JSON.parse(model?.value as string)).toEqual({ variant: 'vgg16', weightsSha256: 'ab'.repeat(32) });
    const columns = await query(`SELECT encodings, compression FROM parquet_metadata('${file}')`);
    expect(columns.length).toBeGreaterThan(0);
    for (const column of columns) {
      expect(column.encodings).not.toMatch(/DICTIONARY/);
      expect(column.compression).toBe('ZSTD');
    }
  });

  it('is readable by DuckDB after a multipart round trip through S3', async () => {
    const bucket = await createTestBucket();
    const store = new S3ObjectStore({ client: s3ClientForTests(), bucket, prefix: 'run/' });
    await store.put('shards/part-00000.parquet', encoded, { contentType: 'application/vnd.apache.parquet' });
    const back = await store.get('shards/part-00000.parquet');
    const copy = path.join(dir, 'from-s3.parquet');
    await writeFile(copy, back);
    const [count] = await query(`SELECT count(*) AS n FROM '${copy}'`);
    expect(count?.n).toBe(BigInt(ROWS));
  });
});
