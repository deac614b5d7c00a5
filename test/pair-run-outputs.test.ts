// What a user sees of a finished pair run besides its shards: the chunk fingerprints that guard a resumed run, the
// status summary and the HTML report.
import { copyFile, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { formatProgressBar, formatStatus, progressOf, type SubmitOptions } from 'vgg-pipeline';
import { PAIR_TEST_MODEL, PipelineHarness } from './support/pipeline-harness.js';
import { s3ClientForTests } from './support/s3.js';

const fixtures = path.resolve(import.meta.dirname, '../packages/vgg-core/test-fixtures/pairs');

let harness: PipelineHarness;
let root: string;
let options: SubmitOptions;

const PAIRS = ['a,b,key', 'a.png,b.png,k1', 'b.png,a.png,k2', 'a.png,gone.png,k3', 'a.png,c.png,k4'];

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'vgg-pair-outputs-'));
  for (const name of ['a', 'b', 'c'])
    await copyFile(path.join(fixtures, `${name}.png`), path.join(root, `${name}.png`));
  await writeFile(path.join(root, 'pairs.csv'), PAIRS.join('\n'));
  harness = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
  options = {
    sources: [],
    pairs: path.join(root, 'pairs.csv'),
    keyCol: 'key',
    out: path.join(root, 'out'),
    runId: 'pair-outputs',
    chunkSize: 2,
    ...PAIR_TEST_MODEL,
    seed: 0,
  };
  await harness.startWorker();
  await harness.submit(options);
  await harness.waitForRun('pair-outputs', 180_000);
}, 240_000);

afterAll(async () => {
  await harness?.close();
});

describe('a finished pair run', () => {
  it('fingerprints each chunk over both images of its pairs, and refuses a resubmitted pairs file whose b column changed', async () => {
    const records = await harness.runStore.getChunkRecords('pair-outputs');
    expect(records).toHaveLength(2);
    for (const record of records) expect(record.inputSha256).toMatch(/^[0-9a-f]{64}$/);
    // The same pairs file resumes the finished run.
    await expect(harness.submit(options)).resolves.toMatchObject({ runId: 'pair-outputs', enqueued: 0 });
    // Only b of the second chunk's first pair changed: its a images are the same.
    const changed = [...PAIRS];
    changed[3] = 'a.png,c.png,k3';
    await writeFile(path.join(root, 'pairs.csv'), changed.join('\n'));
    try {
      await expect(harness.submit(options)).rejects.toMatchObject({
        code: 'RUN_CONFLICT',
        field: 'inputs',
        message: expect.stringContaining('chunk 1 now holds other inputs than it did'),
      });
    } finally {
      await writeFile(path.join(root, 'pairs.csv'), PAIRS.join('\n'));
    }
  });

  it('says pairs in its status and summarises their distances, with no label histogram', async () => {
    const status = await harness.runStore.status('pair-outputs');
    const text = formatStatus(progressOf(status!));
    expect(text).toContain('  pairs    4 / 4 done, 3 ok, 1 failed');
    expect(text).toMatch(/ pairs\/s/);
    expect(text).toMatch(/ {2}distance min \S+ {2}mean \S+ {2}max \S+ \(perceptual_distance of 3 ok pairs\)/);
    expect(text).not.toMatch(/images|unknown/);
    const distances = [...text.matchAll(/(min|mean|max) (\S+)/g)].map((m) => Number(m[2]));
    expect(distances).toHaveLength(3);
    expect(distances[0]).toBeGreaterThan(0);
    expect(distances[0]).toBeLessThanOrEqual(distances[1]!);
    expect(distances[1]).toBeLessThanOrEqual(distances[2]!);
    expect(formatProgressBar(progressOf(status!))).toMatch(/ pairs\/s/);
    for (const record of status!.records) expect(record.top1Histogram).toEqual({});
  });
});
