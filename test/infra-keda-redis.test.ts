/**
 * The Redis of infra/k8s/base/redis.yaml, started here from its own ConfigMap and start-up script (TLS, ACL users
 * written from the Secret's values), and KEDA's redis scaler query run against it as the KEDA user, on a real
 * BullMQ queue: what the ScaledObjects count is what BullMQ holds, at every step of a run, down to zero at its end.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { type Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from 'vgg-local-kit';
import { DEFAULT_KEY_PREFIX, DEFAULT_QUEUE_NAME } from 'vgg-pipeline';
import { loadManifests, podSpecOf } from './support/infra.js';

const run = promisify(execFile);

/**
 * What KEDA's redis scaler evaluates for a trigger's listName (kedacore/keda, pkg/scalers/redis_scaler.go,
 * Apache-2.0): the length of a list, set, sorted set or hash, whatever the key holds.
 */
const KEDA_LENGTH_SCRIPT = `
local listName = KEYS[1]
local listType = redis.call('type', listName).ok
local cmd = { zset = 'zcard', set = 'scard', list = 'llen', hash = 'hlen', none = 'llen' }
return redis.call(cmd[listType], listName)
`;

const PASSWORD = 'apps0password0hex';
const KEDA_USER = 'keda';
const KEDA_PASSWORD = 'keda0password0hex';

const manifests = loadManifests();
function manifest(kind: string, name: string) {
  const found = manifests.find((m) => m.doc.kind === kind && m.doc.metadata.name === name);
  if (!found) throw new Error(`no ${kind}/${name} under infra/k8s`);
  return found.doc;
}
const redisConf = (manifest('ConfigMap', 'vgg-redis-config').data as Record<string, string>)['redis.conf'];
const redisContainer = podSpecOf(manifest('StatefulSet', 'vgg-redis'))?.containers[0] as IContainer;
const startScript = redisContainer.args?.[0] ?? '';
const scaledObject = manifests.find((m) => m.doc.kind === 'ScaledObject')!.doc;
const scaling = scaledObject.spec as {
  advanced: { scalingModifiers: { formula: string } };
  triggers: { name: string; metadata: { listName: string } }[];
};

let dir: string;
let port: number;
let server: ChildProcess;
let serverLog = '';
let ca: Buffer;
const clients: Redis[] = [];

function connect(user?: { username: string; password: string }): Redis {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    ...(user ?? { password: PASSWORD }),
    tls: { ca, servername: 'localhost' },
    maxRetriesPerRequest: null,
    lazyConnect: true,
    // KEDA's client (go-redis) sends no INFO, which its ACL user may not run.
    enableReadyCheck: false,
  });
  // Connection errors reach the awaiting commands; the event itself needs no report.
  client.on('error', () => undefined);
  clients.push(client);
  return client;
}

/** The ScaledObject's view: each trigger's count, as KEDA's script returns it for the trigger's listName. */
async function kedaCounts(keda: Redis): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const t of scaling.triggers)
    counts[t.name] = Number(await keda.eval(KEDA_LENGTH_SCRIPT, 1, t.metadata.listName));
  return counts;
}

/** The formula of scalingModifiers, which the manifest test holds to a plain sum of trigger names. */
function composite(counts: Record<string, number>): number {
  return scaling.advanced.scalingModifiers.formula
    .split('+')
    .map((name) => counts[name.trim()] ?? Number.NaN)
    .reduce((a, b) => a + b, 0);
}

function startScriptEnv(password: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    REDIS_PASSWORD: password,
    KEDA_REDIS_USERNAME: KEDA_USER,
    KEDA_REDIS_PASSWORD: KEDA_PASSWORD,
  };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vgg-k8s-redis-'));
  const ssl = (...args: string[]) => run('openssl', args, { cwd: dir });
  await ssl(
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt'],
    ...['-days', '2', '-subj', '/CN=vgg-test-ca'],
  );
  await ssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'tls.key',
    '-out',
    'tls.csr',
    '-subj',
    '/CN=localhost',
  );
  await writeFile(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost\n');
  await ssl(
    ...['x509', '-req', '-in', 'tls.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial'],
    ...['-out', 'tls.crt', '-days', '2', '-extfile', 'ext.cnf'],
  );
  ca = await readFile(path.join(dir, 'ca.crt'));
  port = await freePort();
  await mkdir(path.join(dir, 'data'));
  await mkdir(path.join(dir, 'run'));
  // The ConfigMap's redis.conf with this machine's paths and port; nothing else changes.
  const conf = (redisConf ?? '')
    .replaceAll('/etc/redis/tls/', `${dir}/`)
    .replace(/^dir \/data$/m, `dir ${dir}/data`)
    .replace(/^tls-port 6379$/m, `tls-port ${port}`);
  expect(conf).not.toContain('/etc/redis');
  await writeFile(path.join(dir, 'redis.conf'), `${conf}\nbind 127.0.0.1\n`);
  const script = startScript
    .replaceAll('/etc/redis/redis.conf', path.join(dir, 'redis.conf'))
    .replaceAll('/run/redis/', `${dir}/run/`);
  server = spawn('sh', ['-c', script], { env: startScriptEnv(PASSWORD), stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout?.on('data', (d: Buffer) => {
    serverLog += d.toString();
  });
  server.stderr?.on('data', (d: Buffer) => {
    serverLog += d.toString();
  });
  const probe = connect();
  for (let i = 0; ; i++) {
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch (error) {
      probe.disconnect();
      if (i === 50) throw new Error(`Redis from redis.yaml did not start: ${serverLog}`, { cause: error });
      await new Promise((r) => setTimeout(r, 100));
    }
  }
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  server?.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('Redis from infra/k8s/base/redis.yaml', () => {
  it('refuses passwords that would break the ACL rules, naming the Secret keys', async () => {
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn('sh', ['-c', startScript], { env: startScriptEnv('two words'), stdio: 'pipe' });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("vgg-redis Secret's password, keda-username and keda-password");
  });

  it('runs with AOF fsynced every second and noeviction, over TLS with password auth', async () => {
    const apps = connect();
    await apps.connect();
    expect(await apps.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    expect(await apps.config('GET', 'appendfsync')).toEqual(['appendfsync', 'everysec']);
    expect(await apps.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    const wrong = new Redis({
      host: '127.0.0.1',
      port,
      password: 'wrong',
      tls: { ca, servername: 'localhost' },
    });
    clients.push(wrong);
    wrong.on('error', () => undefined);
    await expect(wrong.ping()).rejects.toThrow(/WRONGPASS|NOAUTH/);
  });

  it("lets KEDA's user count the queue and nothing else", async () => {
    const keda = connect({ username: KEDA_USER, password: KEDA_PASSWORD });
    await keda.connect();
    expect(await keda.call('HELLO', '2')).toBeDefined();
    expect(await keda.eval(KEDA_LENGTH_SCRIPT, 1, `${DEFAULT_KEY_PREFIX}:${DEFAULT_QUEUE_NAME}:wait`)).toBe(
      0,
    );
    await expect(keda.del(`${DEFAULT_KEY_PREFIX}:${DEFAULT_QUEUE_NAME}:wait`)).rejects.toThrow(/NOPERM/);
    await expect(keda.hgetall(`${DEFAULT_KEY_PREFIX}:${DEFAULT_QUEUE_NAME}:meta`)).rejects.toThrow(/NOPERM/);
    await expect(keda.eval(KEDA_LENGTH_SCRIPT, 1, 'elsewhere:list')).rejects.toThrow(/NOPERM/);
    await expect(keda.flushall()).rejects.toThrow(/NOPERM/);
    await expect(keda.config('GET', 'requirepass')).rejects.toThrow(/NOPERM/);
    await expect(keda.call('CLIENT', 'KILL', 'TYPE', 'normal')).rejects.toThrow(/NOPERM/);
  });

  it("counts waiting, prioritized, delayed and active chunks as BullMQ does, and reaches zero only at the run's end", async () => {
    const connection = connect();
    const keda = connect({ username: KEDA_USER, password: KEDA_PASSWORD });
    await Promise.all([connection.connect(), keda.connect()]);
    const opts = { connection, prefix: DEFAULT_KEY_PREFIX };
    const queue = new Queue(DEFAULT_QUEUE_NAME, opts);
    const worker = new Worker(DEFAULT_QUEUE_NAME, null, { ...opts, autorun: false });
    try {
      const chunk = (i: number) => ({ runId: 'keda-test', chunkIndex: i, uris: [`s3://b/${i}.jpg`] });
      await queue.addBulk([0, 1, 2].map((i) => ({ name: 'chunk', data: chunk(i) })));
      await queue.add('chunk', chunk(3), { priority: 2 });
      await queue.add('chunk', chunk(4), { priority: 3 });
      await queue.add('chunk', chunk(5), { delay: 600_000 });
      const first = (await worker.getNextJob('token-0')) as Job;
      expect(first).toBeDefined();

      const expectAgreement = async () => {
        const bull = await queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active');
        const counts = await kedaCounts(keda);
        expect(counts).toEqual({
          wait: bull.waiting,
          prioritized: bull.prioritized,
          delayed: bull.delayed,
          active: bull.active,
        });
        return counts;
      };
      const start = await expectAgreement();
      expect(start.wait).toBeGreaterThan(0);
      expect(start.prioritized).toBeGreaterThan(0);
      expect(start.delayed).toBe(1);
      expect(start.active).toBe(1);
      expect(composite(start)).toBe(6);

      // Work through the run; while any chunk is unfinished, KEDA's composite metric stays above zero.
      await first.moveToCompleted('done', 'token-0', false);
      const delayed = await queue.getDelayed();
      let seen = 1;
      for (let i = 1; ; i++) {
        const counts = await expectAgreement();
        if (composite(counts) === 0) break;
        expect(composite(counts)).toBe(6 - seen);
        if ((counts.wait ?? 0) + (counts.prioritized ?? 0) === 0) await delayed[0]?.promote();
        const job = (await worker.getNextJob(`token-${i}`)) as Job;
        expect(composite(await expectAgreement())).toBe(6 - seen);
        await job.moveToCompleted('done', `token-${i}`, false);
        seen += 1;
      }
      expect(seen).toBe(6);
      expect(await queue.getJobCounts('completed')).toEqual({ completed: 6 });
    } finally {
      await worker.close();
      await queue.close();
    }
  });
});
