import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSampleImages, freePort } from 'vgg-local-kit';
import { WorkerProcess } from './support/worker-process.js';

const run = promisify(execFile);
const producerMain = path.resolve(import.meta.dirname, '../apps/producer/dist/main.js');
const PASSWORD = 's3cret-pa55';

let dir: string;
let redis: ChildProcess;
let url: string;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vgg-tls-'));
  const ssl = (...args: string[]) => run('openssl', args, { cwd: dir });
  await ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=vgg-test-ca',
  );
  await ssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=127.0.0.1',
  );
  await writeFile(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  await ssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
  );
  const port = await freePort();
  redis = spawn(
    'redis-server',
    [
      '--port',
      '0',
      '--tls-port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--tls-cert-file',
      'server.pem',
      '--tls-key-file',
      'server.key',
      '--tls-ca-cert-file',
      'ca.pem',
      '--tls-auth-clients',
      'no',
      '--requirepass',
      PASSWORD,
      '--maxmemory-policy',
      'noeviction',
    ],
    { cwd: dir, stdio: 'ignore' },
  );
  url = `rediss://:${PASSWORD}@127.0.0.1:${port}`;
  await ensureSampleImages({ dir: path.join(dir, 'images'), count: 12 });
  await new Promise((r) => setTimeout(r, 300));
});

afterAll(() => {
  for (const w of workers) w.kill('SIGKILL');
  redis.kill('SIGKILL');
});

function producer(args: string[], redisUrl = url) {
  return run(process.execPath, [producerMain, ...args], {
    env: {
      PATH: process.env.PATH ?? '',
      REDIS_URL: redisUrl,
      // The test CA, as an operator with a private CA would configure Node.
      NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.pem'),
      VGG_PREFIX: 'tls',
    },
  });
}

describe('Redis AUTH and TLS', () => {
  it('runs producer and worker over rediss:// with a password, never printing it', async () => {
    const worker = WorkerProcess.start({
      redisUrl: url,
      prefix: 'tls',
      cacheDir: path.join(dir, 'cache'),
      env: { NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.pem') },
    });
    workers.push(worker);
    const out = path.join(dir, 'out');
    const model = [
      '--model',
      '[8,M,16,M]',
      '--classifier-width',
      '32',
      '--input-size',
      '32',
      '--pool-size',
      '2',
      '--seed',
      '7',
    ];
    const submitted = await producer([
      'submit',
      path.join(dir, 'images'),
      '--out',
      out,
      '--run',
      'tls-run',
      ...model,
    ]);
    expect(submitted.stdout).toContain('submitted run tls-run: 12 images in 1 chunks');
    expect(submitted.stdout).toContain('UNTRAINED');
    const status = await producer(['status', 'tls-run', '--watch', '--json', '--interval', '200']);
    const last = JSON.parse(status.stdout.trim().split('\n').at(-1)!) as { state: string; rows: number };
    expect(last).toMatchObject({ state: 'finalized', rows: 12 });
    const manifest = JSON.parse(await readFile(path.join(out, 'tls-run', '_manifest.json'), 'utf8')) as {
      totals: { rows: number };
    };
    expect(manifest.totals.rows).toBe(12);
    await worker.stop();
    expect(worker.log.join('')).not.toContain(PASSWORD);
    expect(status.stdout + submitted.stdout + submitted.stderr).not.toContain(PASSWORD);
    // Logs are pino JSON lines (stderr is not a terminal) with levels and the run, chunk and worker fields; the
    // Redis URL is logged without its password.
    const records = worker.log
      .join('')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const ready = records.find((r) => r.type === 'ready');
    expect(ready).toMatchObject({ level: 30, name: 'vgg-worker', redis: url.replace(`:${PASSWORD}@`, '') });
    expect(ready?.worker).toMatch(/^.+:\d+$/);
    expect(records.find((r) => r.type === 'chunk-done')).toMatchObject({
      level: 30,
      run: 'tls-run',
      chunk: 0,
      worker: ready?.worker,
      rows: 12,
    });
    const submitLog = submitted.stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(submitLog).toContainEqual(
      expect.objectContaining({
        level: 30,
        name: 'vgg-producer',
        type: 'submitted',
        run: 'tls-run',
        inputs: 12,
      }),
    );
  });

  it('fails fast with a clear error on a wrong password, without echoing it', async () => {
    const wrong = url.replace(PASSWORD, 'wrong-password');
    const error = await producer(['status', 'nothing'], wrong).then(
      () => null,
      (e: { stderr: string; code: number }) => e,
    );
    expect(error?.code).toBe(1);
    expect(error?.stderr).toMatch(/WRONGPASS|invalid username-password|NOAUTH/i);
    expect(error?.stderr).not.toContain('wrong-password');
  });
});
