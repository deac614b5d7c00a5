import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { create as createTar } from 'tar';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { retryFailed } from 'vgg-pipeline';
import { duckdbQuery, PipelineHarness, readManifest } from './support/pipeline-harness.js';
import { createTestBucket, s3ClientForTests } from './support/s3.js';

const fixtures = path.resolve(import.meta.dirname, '../packages/vgg-core/test-fixtures/images');

let root: string;
let shardsDir: string;
let harness: PipelineHarness | undefined;

/** A WebDataset shard made by node-tar from files laid out in a folder, members in the order given. */
async function makeShard(file: string, members: [string, string | Buffer][]): Promise<Buffer> {
  const src = await mkdtemp(path.join(root, 'src-'));
  for (const [name, body] of members) {
    await mkdir(path.dirname(path.join(src, name)), { recursive: true });
    await writeFile(path.join(src, name), body);
  }
  await createTar(
    { file, cwd: src, portable: true },
    members.map(([name]) => name),
  );
  return readFile(file);
}

const image = (name: string) => readFile(path.join(fixtures, name));

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'vgg-tar-e2e-'));
  shardsDir = path.join(root, 'shards');
  await mkdir(shardsDir);
  // Shard 000: three samples with .json and .txt siblings, a member that is not an image, and an image member
  // whose bytes are corrupt.
  await makeShard(path.join(shardsDir, '000.tar'), [
    ['s0.jpg', await image('320x240.jpg')],
    ['s0.json', JSON.stringify({ caption: 'a test card', width: 320, tags: ['x'] })],
    ['s0.txt', 'card'],
    ['s1.json', JSON.stringify({ caption: 'flowers' })],
    ['s1.jpeg', await image('flowers.jpeg')],
    ['notes.md', '# not an image'],
    ['s2.jpg', await image('corrupt-header.jpg')],
    ['s2.txt', 'broken'],
    ['sub/s3.webp', await image('4.webp')],
  ]);
  // Shard 001: cut short inside its second image.
  const full = await makeShard(path.join(root, 'full-001.tar'), [
    ['t0.jpg', await image('320x240.jpg')],
    ['t1.jpg', await image('Landscape_1.jpg')],
    ['t1.txt', 'never seen'],
  ]);
  const t0Blocks = Math.ceil((await image('320x240.jpg')).length / 512) * 512;
  await writeFile(path.join(shardsDir, '001.tar'), full.subarray(0, 512 + t0Blocks + 512 + 1000));
  // Shard 002 does not exist: the brace range names it all the same.
});

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

async function newHarness(): Promise<PipelineHarness> {
  harness = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
  return harness;
}

type Row = {
  uri: string;
  key: string | null;
  status: string;
  error: string | null;
  caption: string | null;
  txt: string | null;
};

async function rows(out: string, runId: string): Promise<Row[]> {
  return (await duckdbQuery(
    `SELECT uri, key, status, error, caption, txt FROM read_parquet('${path.join(out, runId, 'shards', '*.parquet')}') ORDER BY uri`,
  )) as Row[];
}

describe('WebDataset tar shards', () => {
  it('makes one row per image member with its key and sibling columns, and error rows for what cannot be read', async () => {
    const h = await newHarness();
    const out = await mkdtemp(path.join(root, 'out-'));
    const bucket = await createTestBucket();
    const s3Shard = await readFile(path.join(shardsDir, '000.tar'));
    await s3ClientForTests().send(
      new PutObjectCommand({ Bucket: bucket, Key: 'wds/000.tar', Body: s3Shard }),
    );
    await h.startWorker();
    const local = path.join(shardsDir, '{000..002}.tar');
    const submitted = await h.submit({
      sources: [local, `s3://${bucket}/wds/000.tar`],
      out,
      runId: 'wds',
      keepCols: ['caption', 'txt'],
    });
    expect(submitted).toMatchObject({ totalInputs: 4, totalChunks: 4 });
    await h.waitForRun('wds');

    const shard0 = path.join(shardsDir, '000.tar');
    const shard1 = path.join(shardsDir, '001.tar');
    const shard2 = path.join(shardsDir, '002.tar');
    const all = await rows(out, 'wds');
    const local0 = all.filter((r) => r.uri.startsWith(`${shard0}#`));
    expect(local0).toEqual([
      { uri: `${shard0}#s0.jpg`, key: 's0', status: 'ok', error: null, caption: 'a test card', txt: 'card' },
      { uri: `${shard0}#s1.jpeg`, key: 's1', status: 'ok', error: null, caption: 'flowers', txt: null },
      { uri: `${shard0}#s2.jpg`, key: 's2', status: 'error', error: 'corrupt', caption: null, txt: 'broken' },
      { uri: `${shard0}#sub/s3.webp`, key: 'sub/s3', status: 'ok', error: null, caption: null, txt: null },
    ]);
    // The same shard on S3 gives the same rows.
    const fromS3 = all.filter((r) => r.uri.startsWith(`s3://${bucket}/wds/000.tar#`));
    expect(fromS3.map((r) => [r.uri.split('#')[1], r.status, r.caption])).toEqual(
      local0.map((r) => [r.uri.split('#')[1], r.status, r.caption]),
    );
    // The truncated shard: its first image, the image cut short, nothing lost.
    expect(all.filter((r) => r.uri.startsWith(shard1))).toEqual([
      { uri: `${shard1}#t0.jpg`, key: 't0', status: 'ok', error: null, caption: null, txt: null },
      { uri: `${shard1}#t1.jpg`, key: 't1', status: 'error', error: 'truncated', caption: null, txt: null },
    ]);
    // The missing shard is one row under its own URI.
    expect(all.filter((r) => r.uri.startsWith(shard2))).toEqual([
      { uri: shard2, key: null, status: 'error', error: 'not_found', caption: null, txt: null },
    ]);

    const manifest = (await readManifest(path.join(out, 'wds'))) as {
      totals: Record<string, number>;
      errorsByReason: Record<string, number>;
    };
    // Shard 000 twice (local and S3): 4 image rows and 5 other members (s0.json, s0.txt, s1.json, notes.md,
    // s2.txt) each; 001: 2 rows; 002: 1 row.
    expect(manifest.totals).toMatchObject({ inputs: 4, rows: 11, ok: 7, error: 4, skippedMembers: 10 });
    expect(manifest.errorsByReason).toEqual({ corrupt: 2, not_found: 1, truncated: 1 });
  });

  it('resumes, adopts shards written before Redis lost them, and retries a failed shard in full', async () => {
    const h = await newHarness();
    const out = await mkdtemp(path.join(root, 'out-'));
    const shards = path.join(root, 'retry');
    await mkdir(shards);
    await writeFile(path.join(shards, 'a.tar'), await readFile(path.join(shardsDir, '000.tar')));
    await h.startWorker();
    const sources = [path.join(shards, '{a,b}.tar')];
    await h.submit({ sources, out, runId: 'tar-retry', keepCols: ['caption'] });
    const first = await h.waitForRun('tar-retry');
    expect(first.records.map((r) => r.rows).sort()).toEqual([1, 4]);

    // Resubmitting a finished run enqueues nothing.
    const again = await h.submit({ sources, out, runId: 'tar-retry', keepCols: ['caption'] });
    expect(again).toMatchObject({ enqueued: 0, skipped: 2 });

    // Redis loses the records: the producer adopts both shards, since their files name the tar shards they read.
    await h.runStore.removeChunkRecords('tar-retry', [0, 1]);
    const adopted = await h.submit({ sources, out, runId: 'tar-retry', keepCols: ['caption'] });
    expect(adopted).toMatchObject({ enqueued: 0, skipped: 2 });

    // The missing shard appears; retry-failed streams it again as a whole.
    await writeFile(path.join(shards, 'b.tar'), await readFile(path.join(shardsDir, '000.tar')));
    const retried = await retryFailed('tar-retry', h.runs, { reasons: ['not_found'] });
    expect(retried).toEqual({ chunks: 1, images: 1 });
    await h.waitForRun('tar-retry');
    const kept = await duckdbQuery(
      `SELECT uri, key, caption, status FROM read_parquet('${path.join(out, 'tar-retry', 'shards', '*.parquet')}') ORDER BY uri`,
    );
    expect(kept).toHaveLength(8);
    expect(kept.filter((r) => String(r.uri).includes('b.tar#s1.jpeg'))).toEqual([
      { uri: `${path.join(shards, 'b.tar')}#s1.jpeg`, key: 's1', caption: 'flowers', status: 'ok' },
    ]);
  });
});
