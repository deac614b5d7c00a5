import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isPipelineError, submitRun } from 'vgg-pipeline';
import { TestHttpServer } from './support/http-server.js';
import { PipelineHarness, SMALL_MODEL, SMALL_PREPROCESS, SMALL_SEED } from './support/pipeline-harness.js';
import { s3ClientForTests } from './support/s3.js';

let h: PipelineHarness;
let dir: string;
let server: TestHttpServer;
let redirector: Server;
let redirectorOrigin: string;

beforeAll(async () => {
  h = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
  dir = await mkdtemp(path.join(tmpdir(), 'vgg-manifest-policy-'));
  // The manifest sits on a loopback ("internal") host; a second one redirects to it.
  server = await TestHttpServer.start({
    '/m.txt': (_req, res) =>
      void res.writeHead(200).end('https://img.example/a.jpg\nhttps://img.example/b.jpg\n'),
  });
  // An allowed host (127.0.0.2, opened by allowCidrs) that redirects to the refused one.
  redirector = createServer(
    (_req, res) => void res.writeHead(302, { location: `${server.origin}/m.txt` }).end(),
  );
  await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.2', resolve));
  redirectorOrigin = `http://127.0.0.2:${(redirector.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await h.close();
  await server.close();
  await new Promise((resolve) => redirector.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

function submit(runId: string, source: string, network?: { allowHosts: string[]; allowCidrs: string[] }) {
  return submitRun(
    { ...SMALL_MODEL, ...SMALL_PREPROCESS, seed: SMALL_SEED, sources: [source], out: dir, runId },
    { ...h.runs, ...(network ? { network } : {}) },
  );
}

describe('http(s) manifests read by the producer', () => {
  it('meet the network policy: a loopback manifest is refused without a request, naming the flags', async () => {
    const error = await submit('internal', `${server.origin}/m.txt`).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isPipelineError(error, 'SOURCE_READ')).toBe(true);
    expect((error as Error).message).toMatch(/--allow-cidrs/);
    expect(server.requests).toEqual([]);
  });

  it('are read once allowlisted, and every redirect hop is checked', async () => {
    const submitted = await submit('allowed', `${server.origin}/m.txt`, {
      allowHosts: [],
      allowCidrs: ['127.0.0.1/32'],
    });
    expect(submitted.totalInputs).toBe(2);
    const before = server.requests.length;
    const error = await submit('bounced', `${redirectorOrigin}/go.txt`, {
      allowHosts: [],
      allowCidrs: ['127.0.0.2/32'],
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isPipelineError(error, 'SOURCE_READ')).toBe(true);
    expect(server.requests.length).toBe(before);
  });
});
