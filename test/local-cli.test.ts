import { execFile, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promisify } from 'node:util';
import { ensureSampleImages, RedisServerProcess } from 'vgg-local-kit';

const bin = path.resolve(import.meta.dirname, '../apps/local/bin/vgg-local.js');
const fixtures = path.resolve(import.meta.dirname, '../packages/vgg-core/test-fixtures/images');
const producerBin = path.resolve(import.meta.dirname, '../apps/producer/bin/vgg-producer.js');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vgg-local-cli-'));
  await ensureSampleImages({ dir: path.join(dir, 'images'), count: 6 });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own redis-server and a worker process: nothing of the test's servers.
      env: { ...process.env, REDIS_URL: '', VGG_OUT: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('vgg-local', () => {
  it('runs a job on a private redis-server and a worker started alongside it, then exits with every row written', async () => {
    const out = path.join(dir, 'out');
    const { code, stdout } = await runCli([
      path.join(dir, 'images'),
      '--model',
      '[8,M]',
      '--classifier-width',
      '16',
      '--input-size',
      '32',
      '--out',
      out,
      '--run',
      'local-cli',
      '--verbose',
    ]);
    expect(code, stdout).toBe(0);
    // The worker was spawned before redis-server answered and still connected.
    expect(stdout).toMatch(/started private redis-server at redis:\/\/127\.0\.0\.1:\d+/);
    // Off a terminal its log is JSON lines, the workers' records relayed with their number.
    const records = stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records).toContainEqual(
      expect.objectContaining({ name: 'vgg-local', worker: 1, type: 'ready', level: 30 }),
    );
    expect(records).toContainEqual(
      expect.objectContaining({ worker: 1, type: 'chunk-done', run: 'local-cli', chunk: 0, rows: 6 }),
    );
    expect(stdout).toMatch(/images\s+6 \(6 ok, 0 errors\)/);
    // The run report is written beside the outputs and its path printed.
    const report = path.join(out, 'local-cli', 'report.html');
    expect(stdout).toContain(`report      ${report}`);
    expect(await readFile(report, 'utf8')).toContain('<title>Run local-cli');
    const manifest = JSON.parse(await readFile(path.join(out, 'local-cli', '_manifest.json'), 'utf8'));
    expect(manifest.totals.rows).toBe(6);
    // Its redis-server is gone: nothing answers on its port any more.
    const port = Number(stdout.match(/redis:\/\/127\.0\.0\.1:(\d+)/)?.[1]);
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
  });

  it('refuses an impossible run with exit 2 before it starts a redis-server or a worker', async () => {
    const { code, stdout, stderr } = await runCli([
      path.join(dir, 'images'),
      '--model',
      'vgg17',
      '--out',
      path.join(dir, 'never'),
    ]);
    expect(code, stderr).toBe(2);
    expect(stderr).toContain('for --model but received "vgg17"');
    // Nothing was started: no server line, no worker record.
    expect(stdout).not.toContain('redis-server');
    expect(stdout + stderr).not.toMatch(/"worker":|worker 1/);
  });

  it('refuses to resume a run whose listing changed with exit 2, naming the chunk and what to do', async () => {
    // A Redis of its own: vgg-local submits under the default prefix and queue.
    const redis = await RedisServerProcess.create();
    try {
      const src = path.join(dir, 'relisted');
      await mkdir(src);
      const images = (await readdir(fixtures)).filter((f) => f.endsWith('.jpg'));
      for (const f of images.slice(0, 2)) await copyFile(path.join(fixtures, f), path.join(src, f));
      const args = [src, '--model', '[8,M]', '--input-size', '32', '--chunk-size', '1', '--run', 'relisted'];
      const out = ['--out', path.join(dir, 'relisted-out')];
      await promisify(execFile)(process.execPath, [producerBin, 'submit', ...args, ...out], {
        env: { PATH: process.env.PATH ?? '', REDIS_URL: redis.url },
      });
      await copyFile(path.join(fixtures, images[2]!), path.join(src, `0-${images[2]!}`));
      const { code, stderr } = await runCli([...args, ...out, '--redis-url', redis.url, '--workers', '0']);
      expect(code, stderr).toBe(2);
      expect(stderr).toContain(
        'Run relisted was first submitted with another listing of its sources: chunk 0',
      );
      expect(stderr).toContain('submit the new listing as a new run (another --run id)');
    } finally {
      await redis.close();
    }
  });

  it('summarises a pair run as pairs with their distances, not images and labels', async () => {
    const pairs = path.join(dir, 'pairs');
    await mkdir(pairs);
    const pairFixtures = path.resolve(import.meta.dirname, '../packages/vgg-core/test-fixtures/pairs');
    for (const name of ['a.png', 'b.png', 'c.png'])
      await copyFile(path.join(pairFixtures, name), path.join(pairs, name));
    await writeFile(path.join(pairs, 'pairs.csv'), 'a,b\na.png,b.png\na.png,c.png\na.png,gone.png\n');
    const { code, stdout, stderr } = await runCli([
      '--pairs',
      path.join(pairs, 'pairs.csv'),
      '--classifier-width',
      '16',
      '--input-size',
      '64',
      '--pool-size',
      '2',
      '--resize-size',
      '73',
      '--crop-size',
      '64',
      '--out',
      path.join(dir, 'pairs-out'),
      '--run',
      'local-pairs',
    ]);
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/pairs\s+3 \(2 ok, 1 errors\)/);
    expect(stdout).toMatch(/throughput\s+\S+ pairs\/s end to end/);
    expect(stdout).toMatch(/distance\s+min \S+ {2}mean \S+ {2}max \S+ \(perceptual_distance of 2 ok pairs\)/);
    expect(stdout).toContain('b:not_found');
    expect(stdout).not.toMatch(/top-1 labels|images\s+3/);
    expect(stdout).toContain('3 pairs in 1 chunk (1 enqueued)');
  });
});
