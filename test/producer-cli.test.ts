import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PipelineHarness } from './support/pipeline-harness.js';
import { s3ClientForTests } from './support/s3.js';

const run = promisify(execFile);
const producerMain = path.resolve(import.meta.dirname, '../apps/producer/dist/main.js');
const images = path.resolve(import.meta.dirname, '../packages/vgg-core/test-fixtures/images');

let h: PipelineHarness;
let out: string;

beforeAll(async () => {
  h = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
  out = await mkdtemp(path.join(tmpdir(), 'vgg-producer-cli-'));
});
afterAll(async () => {
  await h.close();
  await rm(out, { recursive: true, force: true });
});

/** Runs `vgg-producer submit` against the test Redis under the harness's private prefix. */
async function submit(args: string[], env: Record<string, string> = {}, source = images) {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      [producerMain, 'submit', source, '--out', out, '--model', '[8,M,16,M]', '--input-size', '32', ...args],
      { env: { PATH: process.env.PATH ?? '', REDIS_URL: inject('redisUrl'), VGG_PREFIX: h.prefix, ...env } },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('vgg-producer submit', () => {
  it('refuses a tap the model does not have with exit 2, naming --taps and the valid taps, and enqueues nothing', async () => {
    const result = await submit(['--run', 'bad-tap', '--taps', 'relu9_9']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('for --taps but received "relu9_9"');
    expect(result.stderr).toContain('relu2_1, pool5, fc6, fc7, logits, probs');
    expect(await h.runStore.status('bad-tap')).toBeNull();
    expect(await h.queue.getJobCounts('wait')).toEqual({ wait: 0 });
  });

  it('reads VGG_FP16=false as false, and refuses a boolean twin it cannot read', async () => {
    const off = await submit(['--run', 'fp16-off', '--taps', 'fc7'], { VGG_FP16: 'false' });
    expect(off.code).toBe(0);
    expect((await h.runStore.getSpec('fp16-off'))?.output.dtype).toBe('float32');
    const on = await submit(['--run', 'fp16-on', '--taps', 'fc7'], { VGG_FP16: 'yes' });
    expect(on.code).toBe(0);
    expect((await h.runStore.getSpec('fp16-on'))?.output.dtype).toBe('float16');
    const bad = await submit(['--run', 'fp16-bad', '--taps', 'fc7'], { VGG_FP16: 'maybe' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      'Expected one of true, false, 1, 0, yes, no for VGG_FP16 but received "maybe"',
    );
  });

  it('refuses a resubmitted run whose listing changed with exit 2, naming the chunk and what to do', async () => {
    const src = path.join(out, 'listing-src');
    await mkdir(src);
    const files = (await readdir(images)).filter((f) => f.endsWith('.jpg')).slice(0, 3);
    for (const f of files.slice(0, 2)) await copyFile(path.join(images, f), path.join(src, f));
    expect((await submit(['--run', 'relisted', '--chunk-size', '1'], {}, src)).code).toBe(0);
    await copyFile(path.join(images, files[2]!), path.join(src, `0-${files[2]!}`));
    const changed = await submit(['--run', 'relisted', '--chunk-size', '1'], {}, src);
    expect(changed.code).toBe(2);
    expect(changed.stderr).toContain(
      'Run relisted was first submitted with another listing of its sources: chunk 0',
    );
    expect(changed.stderr).toContain('submit the new listing as a new run (another --run id)');
    // Other options under the same id are the user's to fix too.
    const otherTop = await submit(['--run', 'relisted', '--chunk-size', '1', '--top', '3'], {}, src);
    expect(otherTop.code).toBe(2);
    expect(otherTop.stderr).toContain('Run relisted already exists with a different output');
  });

  it('counts a pair run in pairs', async () => {
    const dir = path.join(out, 'pair-src');
    await mkdir(dir);
    const pairFixtures = path.resolve(import.meta.dirname, '../packages/vgg-core/test-fixtures/pairs');
    for (const name of ['a.png', 'b.png'])
      await copyFile(path.join(pairFixtures, name), path.join(dir, name));
    await writeFile(path.join(dir, 'pairs.csv'), 'a,b\na.png,b.png\nb.png,a.png\n');
    const { stdout } = await run(
      process.execPath,
      [producerMain, 'submit', '--pairs', path.join(dir, 'pairs.csv'), '--out', out, '--run', 'pair-count'],
      { env: { PATH: process.env.PATH ?? '', REDIS_URL: inject('redisUrl'), VGG_PREFIX: h.prefix } },
    );
    expect(stdout).toContain('submitted run pair-count: 2 pairs in 1 chunks');
  });
});
