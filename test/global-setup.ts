/**
 * Starts the servers integration tests run against, once per `vitest run`:
 * - a private `redis-server` on a free loopback port (no persistence, `noeviction` as BullMQ requires);
 * - fauxqs, a real S3-compatible HTTP server, on a free loopback port.
 * Tests read `inject('redisUrl')` and `inject('s3Endpoint')`. Child processes started by tests inherit the
 * environment set here (AWS_* credentials, endpoint, REDIS_URL). Both servers stop in teardown, which vitest runs
 * even when tests fail; an exit hook kills redis if the runner dies first.
 */
import { buildApp } from 'fauxqs';
import { RedisServerProcess } from 'vgg-local-kit';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `redis://127.0.0.1:<port>` of the private test Redis. */
    redisUrl: string;
    /** `http://127.0.0.1:<port>` of the fauxqs S3 server. */
    s3Endpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stops: (() => Promise<void>)[] = [];
  const teardown = async () => {
    for (const stop of stops.reverse()) await stop().catch((error) => console.error('teardown:', error));
  };
  try {
    const redis = await startRedis();
    stops.push(redis.stop);
    const s3 = await startS3();
    stops.push(s3.stop);

    project.provide('redisUrl', redis.url);
    project.provide('s3Endpoint', s3.endpoint);
    // For child processes (workers, producers) that tests spawn; library code never reads these.
    process.env.REDIS_URL = redis.url;
    process.env.AWS_ENDPOINT_URL_S3 = s3.endpoint;
    process.env.S3_FORCE_PATH_STYLE = 'true';
    process.env.AWS_REGION = 'us-east-1';
    process.env.AWS_ACCESS_KEY_ID = 'test';
    process.env.AWS_SECRET_ACCESS_KEY = 'test';
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    return teardown;
  } catch (error) {
    await teardown();
    throw error;
  }
}

async function startRedis(): Promise<{ url: string; stop: () => Promise<void> }> {
  const server = await RedisServerProcess.create({ searchPath: process.env.PATH ?? '' });
  // Kill redis even if the runner dies before teardown.
  const killOnExit = () => server.kill();
  process.once('exit', killOnExit);
  return {
    url: server.url,
    stop: async () => {
      process.removeListener('exit', killOnExit);
      await server.close();
    },
  };
}

async function startS3(): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  // buildApp rather than startFauxqs: the latter binds 0.0.0.0, and tests only need loopback.
  const app = buildApp({ logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('fauxqs did not report a TCP address');
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    stop: async () => {
      await app.close();
    },
  };
}
