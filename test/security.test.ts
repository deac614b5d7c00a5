import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FetchError, fetchInput, InputGuard, NetworkPolicy } from 'vgg-pipeline';

import { s3ClientForTests } from './support/s3.js';

const servers: Server[] = [];
let target: { port: number; hits: number };
let redirector: { port: number };

function listen(host: string, handler: Parameters<typeof createServer>[1]): Promise<number> {
  const server = createServer(handler);
  servers.push(server);
  return new Promise((resolve) =>
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port)),
  );
}

beforeAll(async () => {
  target = { port: 0, hits: 0 };
  // The "internal service" an attacker wants to reach.
  target.port = await listen('127.0.0.1', (_req, res) => {
    target.hits += 1;
    res.writeHead(200, { 'content-type': 'text/plain' }).end('internal secret');
  });
  // An allowed host (127.0.0.2, opened by allowCidrs) that redirects to the internal one.
  redirector = {
    port: await listen('127.0.0.2', (_req, res) => {
      res.writeHead(302, { location: `http://127.0.0.1:${target.port}/secret` }).end();
    }),
  };
});

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

async function reasonOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    return error instanceof FetchError ? error.reason : `unexpected ${(error as Error).message}`;
  }
}

describe('server-side request forgery guard', () => {
  const policy = new NetworkPolicy();

  it.each([
    '127.0.0.1',
    '127.1.2.3',
    '0.0.0.0',
    '10.0.0.1',
    '172.16.5.4',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '::1',
    '::',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:169.254.169.254',
    'fd00::1',
    'fe80::1',
  ])('refuses %s by default', (address) => {
    expect(policy.isAllowed(address)).toBe(false);
  });

  it.each(['8.8.8.8', '93.184.216.34', '2606:4700:4700::1111'])('allows public address %s', (address) => {
    expect(policy.isAllowed(address)).toBe(true);
  });

  it('opens chosen ranges and hosts with an explicit allowlist', () => {
    const open = new NetworkPolicy({ allowCidrs: ['10.1.0.0/16'], allowHosts: ['.images.internal'] });
    expect(open.isAllowed('10.1.2.3')).toBe(true);
    expect(open.isAllowed('10.2.0.1')).toBe(false);
    expect(open.isAllowed('192.168.0.9', 'cdn.images.internal')).toBe(true);
    expect(() => new NetworkPolicy({ allowCidrs: ['10.0.0.0/99'] })).toThrow(/Expected CIDR/);
  });

  it.each([
    ['plain loopback', (p: number) => `http://127.0.0.1:${p}/secret`],
    ['localhost name', (p: number) => `http://localhost:${p}/secret`],
    ['decimal encoding', (p: number) => `http://2130706433:${p}/secret`],
    ['hex encoding', (p: number) => `http://0x7f.0.0.1:${p}/secret`],
    ['octal encoding', (p: number) => `http://0177.0.0.1:${p}/secret`],
    ['IPv4-mapped IPv6', (p: number) => `http://[::ffff:127.0.0.1]:${p}/secret`],
  ])('never connects to an internal server addressed by %s', async (_name, url) => {
    const guard = new InputGuard({ allowHosts: [], allowCidrs: [], localRoots: [] });
    const before = target.hits;
    const reason = await reasonOf(
      fetchInput(url(target.port), {
        s3: s3ClientForTests(),
        dispatcher: guard.dispatcher,
        connectTimeoutMs: 2_000,
      }),
    );
    await guard.close();
    expect(reason).toMatch(/^(forbidden|network)$/);
    expect(target.hits).toBe(before);
  });

  it('checks every redirect hop: an allowed host cannot bounce a request to a refused one', async () => {
    const guard = new InputGuard({ allowHosts: [], allowCidrs: ['127.0.0.2/32'], localRoots: [] });
    const before = target.hits;
    const reason = await reasonOf(
      fetchInput(`http://127.0.0.2:${redirector.port}/go`, {
        s3: s3ClientForTests(),
        dispatcher: guard.dispatcher,
      }),
    );
    await guard.close();
    expect(reason).toBe('forbidden');
    expect(target.hits).toBe(before);
  });

  it('reaches an internal host once it is allowlisted', async () => {
    const guard = new InputGuard({ allowHosts: [], allowCidrs: ['127.0.0.1/32'], localRoots: [] });
    const fetched = await fetchInput(`http://127.0.0.1:${target.port}/ok`, {
      s3: s3ClientForTests(),
      dispatcher: guard.dispatcher,
    });
    await guard.close();
    expect(Buffer.from(fetched.bytes).toString()).toBe('internal secret');
  });
});

describe('local input confinement', () => {
  it('refuses paths that escape the roots through .. or symlinks, and reads files inside them', async () => {
    const base = await mkdtemp(path.join(tmpdir(), 'vgg-roots-'));
    const root = path.join(base, 'images');
    await mkdir(root);
    await writeFile(path.join(base, 'secret.jpg'), 'outside');
    await writeFile(path.join(root, 'inside.jpg'), 'inside');
    await symlink(path.join(base, 'secret.jpg'), path.join(root, 'link.jpg'));
    await symlink(base, path.join(root, 'up'));
    const guard = new InputGuard({ allowHosts: [], allowCidrs: [], localRoots: [root] });
    try {
      await expect(guard.checkLocal(path.join(root, 'inside.jpg'))).resolves.toBeUndefined();
      expect(await reasonOf(guard.checkLocal(`${root}/../secret.jpg`))).toBe('forbidden');
      expect(await reasonOf(guard.checkLocal(path.join(root, 'link.jpg')))).toBe('forbidden');
      expect(await reasonOf(guard.checkLocal(path.join(root, 'up', 'secret.jpg')))).toBe('forbidden');
      expect(await reasonOf(guard.checkLocal(`file://${base}/secret.jpg`))).toBe('forbidden');
    } finally {
      await guard.close();
    }
  });
});

describe('vgg-worker --allow-cidrs', () => {
  const workerMain = path.resolve(import.meta.dirname, '../apps/worker/dist/main.js');

  it.each(['10.1.0.0/', '10.1.2.3/16'])(
    'refuses %j at start-up with exit 2, naming the flag, the value and what is expected',
    async (cidr) => {
      const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        // Redis on a closed port: a worker that got past its flags would hang retrying, not exit 2.
        execFile(
          process.execPath,
          [workerMain, '--allow-cidrs', `127.0.0.1/32,${cidr}`],
          { env: { PATH: process.env.PATH ?? '', REDIS_URL: 'redis://127.0.0.1:1' }, timeout: 100_000 },
          (error, _stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stderr }),
        );
      });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`for --allow-cidrs but received ${JSON.stringify(cidr)}`);
      expect(result.stderr).toContain('Expected CIDR range like 10.1.0.0/16');
    },
  );

  it('names the environment twin when the range came from VGG_ALLOW_CIDRS', async () => {
    const stderr = await new Promise<string>((resolve) => {
      execFile(
        process.execPath,
        [workerMain],
        {
          env: {
            PATH: process.env.PATH ?? '',
            REDIS_URL: 'redis://127.0.0.1:1',
            VGG_ALLOW_CIDRS: '10.0.0.0/',
          },
          timeout: 100_000,
        },
        (_error, _stdout, err) => resolve(err),
      );
    });
    expect(stderr).toContain('for VGG_ALLOW_CIDRS but received "10.0.0.0/"');
  });
});
