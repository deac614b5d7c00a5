import { copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { listSource, retryFailed } from 'vgg-pipeline';
import { duckdbQuery, PipelineHarness } from './support/pipeline-harness.js';
import { createTestBucket, s3ClientForTests } from './support/s3.js';

const fixtures = path.resolve(import.meta.dirname, '../packages/vgg-core/test-fixtures/images');

let root: string;
let harness: PipelineHarness | undefined;

/** The manifest rows every format holds: URIs relative to the manifest's folder, one of them missing. */
const ROWS = [
  { id: 'k1', url: 'img/a.jpg', caption: 'a test card, 320 wide' },
  { id: 'k2', url: 'img/b.jpeg', caption: 'flowers "in a vase"' },
  { id: 'k3', url: 'img/missing.jpg', caption: 'not there yet' },
  { id: 'k4', url: 'img/c.webp', caption: null },
];

/** A Parquet manifest written with the project's Parquet writer (parquet-wasm), zstd pages, 2 rows per group. */
function parquetManifest(rows: typeof ROWS): Uint8Array {
  const table = tableFromArrays({
    id: rows.map((r) => r.id),
    url: rows.map((r) => r.url),
    caption: rows.map((r) => r.caption),
    score: Float64Array.from(rows.map((_, i) => i / 2)),
  });
  const properties = new WriterPropertiesBuilder()
    .setCompression(Compression.ZSTD)
    .setMaxRowGroupSize(2)
    .build();
  return writeParquet(WasmTable.fromIPCStream(tableToIPC(table, 'stream')), properties);
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'vgg-manifests-'));
  await mkdir(path.join(root, 'img'));
  await copyFile(path.join(fixtures, '320x240.jpg'), path.join(root, 'img', 'a.jpg'));
  await copyFile(path.join(fixtures, 'flowers.jpeg'), path.join(root, 'img', 'b.jpeg'));
  await copyFile(path.join(fixtures, '4.webp'), path.join(root, 'img', 'c.webp'));
  const csv = [
    'id,url,caption',
    ...ROWS.map(
      (r) => `${r.id},${r.url},${r.caption === null ? '' : `"${r.caption.replaceAll('"', '""')}"`}`,
    ),
  ].join('\r\n');
  await writeFile(path.join(root, 'list.csv.gz'), gzipSync(csv));
  await writeFile(
    path.join(root, 'list.jsonl'),
    ROWS.map((r) => JSON.stringify({ url: r.url, id: r.id, caption: r.caption, extra: [1] })).join('\n'),
  );
  await writeFile(path.join(root, 'list.parquet'), parquetManifest(ROWS));
  // DuckDB writes the zstd TSV and a second, snappy Parquet file: other writers than ours.
  const values = ROWS.map(
    (r) => `('${r.id}', '${r.url}', ${r.caption === null ? 'NULL' : `'${r.caption.replaceAll("'", "''")}'`})`,
  ).join(', ');
  const select = `SELECT * FROM (VALUES ${values}) t(id, url, caption)`;
  await duckdbQuery(
    `COPY (${select}) TO '${path.join(root, 'list.tsv.zst')}' (FORMAT csv, DELIMITER '\t', HEADER, COMPRESSION zstd)`,
  );
  await duckdbQuery(
    `COPY (${select}) TO '${path.join(root, 'duck.parquet')}' (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 2)`,
  );
});

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

async function newHarness(): Promise<PipelineHarness> {
  harness = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
  return harness;
}

const noS3 = () => {
  throw new Error('no S3 here');
};

describe('manifests', () => {
  it('read CSV.gz, TSV.zst, JSON lines and Parquet (two writers) with their key and kept columns', async () => {
    for (const name of ['list.csv.gz', 'list.tsv.zst', 'list.jsonl', 'list.parquet', 'duck.parquet']) {
      const entries = [];
      for await (const entry of listSource(
        path.join(root, name),
        { s3: noS3 },
        { keyCol: 'id', keepCols: ['caption'] },
      ))
        entries.push(entry);
      expect(entries, name).toEqual(
        ROWS.map((r) => ({
          kind: 'image',
          uri: path.join(root, r.url),
          key: r.id,
          // CSV and TSV cannot tell an empty cell from a missing value.
          cols: { caption: r.caption ?? (/\.(csv|tsv)/.test(name) ? '' : null) },
        })),
      );
    }
  });

  it('name what is missing, and refuse a file of unknown format instead of running it as one image', async () => {
    const collect = async (source: string, options = {}) => {
      for await (const _ of listSource(source, { s3: noS3 }, options)) {
        // drain
      }
    };
    await expect(collect(path.join(root, 'list.parquet'), { keepCols: ['nsfw'] })).rejects.toThrow(
      /Parquet file has no column "nsfw" \(found: "id", "url", "caption", "score"\)/,
    );
    await expect(collect(path.join(root, 'list.tsv.zst'), { urlCol: 'URL' })).rejects.toThrow(
      /TSV has no column "URL"/,
    );
    await writeFile(path.join(root, 'list.data'), 'img/a.jpg\n');
    await expect(collect(path.join(root, 'list.data'))).rejects.toMatchObject({
      code: 'SOURCE_INVALID',
      message: expect.stringMatching(
        /unknown file extension \.data: expected an image, manifests .*--input-format/,
      ),
    });
    // Named explicitly, the same file is a manifest.
    const named = [];
    for await (const entry of listSource(path.join(root, 'list.data'), { s3: noS3 }, { format: 'lines' }))
      named.push(entry.uri);
    expect(named).toEqual([path.join(root, 'img', 'a.jpg')]);
  });

  it('carry keys and kept columns into the outputs, also through retry-failed', async () => {
    const h = await newHarness();
    const out = await mkdtemp(path.join(root, 'out-'));
    await h.startWorker();
    const sources = [path.join(root, 'list.tsv.zst'), path.join(root, 'list.parquet')];
    const options = { sources, out, runId: 'cols', chunkSize: 3, keyCol: 'id', keepCols: ['caption'] };
    await h.submit(options);
    await h.waitForRun('cols');
    const query = `SELECT key, caption, status, error FROM read_parquet('${path.join(out, 'cols', 'shards', '*.parquet')}') ORDER BY uri, caption`;
    const before = await duckdbQuery(query);
    expect(before).toHaveLength(8);
    expect(before.filter((r) => r.key === 'k3')).toEqual([
      { key: 'k3', caption: 'not there yet', status: 'error', error: 'not_found' },
      { key: 'k3', caption: 'not there yet', status: 'error', error: 'not_found' },
    ]);
    expect(before.filter((r) => r.key === 'k2').map((r) => r.caption)).toEqual([
      'flowers "in a vase"',
      'flowers "in a vase"',
    ]);

    await copyFile(path.join(fixtures, 'Landscape_1.jpg'), path.join(root, 'img', 'missing.jpg'));
    // Chunks of 3: k3 sits in the first (3 rows) and the last (2 rows).
    expect(await retryFailed('cols', h.runs, { reasons: ['not_found'] })).toEqual({ chunks: 2, images: 5 });
    await h.waitForRun('cols');
    const after = await duckdbQuery(query);
    expect(after.filter((r) => r.key === 'k3')).toEqual([
      { key: 'k3', caption: 'not there yet', status: 'ok', error: null },
      { key: 'k3', caption: 'not there yet', status: 'ok', error: null },
    ]);
    expect(after).toHaveLength(8);
  });

  it('read a Parquet manifest on S3 by byte ranges, resolving its rows against its folder', async () => {
    const bucket = await createTestBucket();
    const s3 = s3ClientForTests();
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'sets/v1/list.parquet', Body: parquetManifest(ROWS) }),
    );
    const entries = [];
    for await (const entry of listSource(
      `s3://${bucket}/sets/v1/list.parquet`,
      { s3 },
      { keepCols: ['score'] },
    ))
      entries.push([entry.uri, entry.kind === 'image' ? entry.cols : null]);
    expect(entries).toEqual([
      [`s3://${bucket}/sets/v1/img/a.jpg`, { score: '0' }],
      [`s3://${bucket}/sets/v1/img/b.jpeg`, { score: '0.5' }],
      [`s3://${bucket}/sets/v1/img/missing.jpg`, { score: '1' }],
      [`s3://${bucket}/sets/v1/img/c.webp`, { score: '1.5' }],
    ]);
  });
});
