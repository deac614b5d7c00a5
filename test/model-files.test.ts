import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelFiles } from 'vgg-chunk-worker';
import { FetchError, InputGuard } from 'vgg-pipeline';
import { createTestBucket, s3ClientForTests } from './support/s3.js';

const servers: Server[] = [];
const hits = new Map<string, number>();
let internal: string; // 127.0.0.1: refused unless allowed
let allowed: string; // 127.0.0.2: opened by allowCidrs in the tests that need it
const weights = Buffer.alloc(256 * 1024, 7);
let dir: string;

function listen(host: string, handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer((req, res) => {
    hits.set(`${host}${req.url}`, (hits.get(`${host}${req.url}`) ?? 0) + 1);
    handler?.(req, res);
  });
  servers.push(server);
  return new Promise((resolve) =>
    server.listen(0, host, () => resolve(`http://${host}:${(server.address() as AddressInfo).port}`)),
  );
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vgg-model-files-'));
  internal = await listen('127.0.0.1', (req, res) => {
    if (req.url === '/w.safetensors') res.writeHead(200).end(weights);
    else res.writeHead(404).end();
  });
  allowed = await listen('127.0.0.2', (req, res) => {
    if (req.url === '/w.safetensors') res.writeHead(200).end(weights);
    else if (req.url === '/bounce.safetensors')
      res.writeHead(302, { location: `${internal}/w.safetensors` }).end();
    else if (req.url === '/huge.safetensors') {
      // No Content-Length: the cap must hold while streaming. 64 KiB chunks until the client goes away.
      res.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024, 1);
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) {}
        if (!res.destroyed) res.once('drain', pump);
      };
      res.on('close', () => res.removeAllListeners('drain'));
      pump();
    } else if (req.url === '/stall.safetensors') {
      // Sends a little, then nothing; a resumed request (Range) gets its 206 headers and then stalls too.
      const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
      const total = weights.length;
      if (from > 0) {
        res.writeHead(206, {
          'content-range': `bytes ${from}-${total - 1}/${total}`,
          'content-length': String(total - from),
        });
        res.write(weights.subarray(from, from + 1024));
      } else {
        res.writeHead(200, { 'content-length': String(total) });
        res.write(weights.subarray(0, 1024));
      }
    } else res.writeHead(404).end();
  });
});

afterAll(async () => {
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  await rm(dir, { recursive: true, force: true });
});

function modelFiles(
  guardOptions: Partial<ConstructorParameters<typeof InputGuard>[0]> = {},
  limits: { maxBytes?: number; readTimeoutMs?: number } = {},
) {
  const guard = new InputGuard({ allowHosts: [], allowCidrs: [], localRoots: [], ...guardOptions });
  const files = new ModelFiles({
    cacheDir: path.join(dir, `cache-${Math.random().toString(36).slice(2)}`),
    s3: s3ClientForTests(),
    guard,
    maxBytes: limits.maxBytes ?? 64 * 1024 * 1024,
    connectTimeoutMs: 2_000,
    readTimeoutMs: limits.readTimeoutMs ?? 10_000,
    attempts: 2,
    backoff: async () => {},
  });
  return { files, close: () => guard.close() };
}

/** The FetchError reason behind a failed localPath, or 'ok'. */
async function reasonOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    const cause = (error as Error).cause;
    return cause instanceof FetchError ? cause.reason : `unexpected ${(error as Error).message}`;
  }
}

describe('model files fetched by URI go through the input guard', () => {
  it('never connects to a loopback --weights URL under the default policy', async () => {
    const { files, close } = modelFiles();
    const before = hits.get('127.0.0.1/w.safetensors') ?? 0;
    expect(await reasonOf(files.localPath(`${internal}/w.safetensors`))).toBe('forbidden');
    await close();
    expect(hits.get('127.0.0.1/w.safetensors') ?? 0).toBe(before);
  });

  it('checks every redirect hop: an allowed host cannot bounce the download to a refused one', async () => {
    const { files, close } = modelFiles({ allowCidrs: ['127.0.0.2/32'] });
    const before = hits.get('127.0.0.1/w.safetensors') ?? 0;
    expect(await reasonOf(files.localPath(`${allowed}/bounce.safetensors`))).toBe('forbidden');
    await close();
    expect(hits.get('127.0.0.1/w.safetensors') ?? 0).toBe(before);
  });

  it('downloads from an allowlisted host once, then serves the cached copy', async () => {
    const { files, close } = modelFiles({ allowCidrs: ['127.0.0.2/32'] });
    const before = hits.get('127.0.0.2/w.safetensors') ?? 0;
    const first = await files.localPath(`${allowed}/w.safetensors`);
    const second = await files.localPath(`${allowed}/w.safetensors`);
    await close();
    expect(second).toBe(first);
    expect(await readFile(first)).toEqual(weights);
    expect(hits.get('127.0.0.2/w.safetensors')).toBe(before + 1);
  });

  it('stops a download at --max-model-bytes while streaming and leaves no partial file', async () => {
    const { files, close } = modelFiles({ allowCidrs: ['127.0.0.2/32'] }, { maxBytes: 1024 * 1024 });
    const failure = files.localPath(`${allowed}/huge.safetensors`);
    expect(await reasonOf(failure)).toBe('too_large');
    await expect(failure).rejects.toThrow(/max-model-bytes/);
    await close();
    for (const name of await readdir(dir)) {
      if (!name.startsWith('cache-')) continue;
      const models = await readdir(path.join(dir, name, 'models')).catch(() => []);
      expect(models.filter((f) => f.startsWith('.download-'))).toEqual([]);
    }
  });

  it('times out a download whose server stalls mid-body', async () => {
    const { files, close } = modelFiles({ allowCidrs: ['127.0.0.2/32'] }, { readTimeoutMs: 500 });
    const started = Date.now();
    expect(await reasonOf(files.localPath(`${allowed}/stall.safetensors`))).toBe('timeout');
    await close();
    // Two attempts of a 500 ms stall each, not the 30 s default or forever.
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 30_000);

  it('reads s3:// model files through the same stream', async () => {
    const bucket = await createTestBucket();
    await s3ClientForTests().send(
      new PutObjectCommand({ Bucket: bucket, Key: 'm/w.safetensors', Body: weights }),
    );
    const { files, close } = modelFiles();
    const local = await files.localPath(`s3://${bucket}/m/w.safetensors`);
    await close();
    expect(await readFile(local)).toEqual(weights);
  });
});

describe('local model paths with --local-roots', () => {
  it('refuses a model file outside the roots and accepts one inside', async () => {
    const root = path.join(dir, 'models-root');
    await mkdir(root, { recursive: true });
    await writeFile(path.join(root, 'in.safetensors'), weights);
    await writeFile(path.join(dir, 'out.safetensors'), weights);
    const { files, close } = modelFiles({ localRoots: [root] });
    expect(await files.localPath(path.join(root, 'in.safetensors'))).toBe(path.join(root, 'in.safetensors'));
    expect(await reasonOf(files.localPath(path.join(dir, 'out.safetensors')))).toBe('forbidden');
    expect(await reasonOf(files.localPath(`file://${root}/../out.safetensors`))).toBe('forbidden');
    expect(await reasonOf(files.localPath('file://otherhost/in.safetensors'))).toBe('invalid_uri');
    await close();
  });
});
