// Private loopback servers for one benchmark run: redis-server (no persistence, noeviction) and fauxqs (S3).
import { buildApp } from 'fauxqs';
import { RedisServerProcess } from 'vgg-local-kit';

/** The project's own private redis-server launcher (no persistence, noeviction), killed if the bench dies. */
export async function startRedis() {
  const server = await RedisServerProcess.create({ searchPath: process.env.PATH ?? '' });
  const kill = () => server.kill();
  process.once('exit', kill);
  return {
    url: server.url,
    stop: async () => {
      process.removeListener('exit', kill);
      await server.close();
    },
  };
}

export async function startS3() {
  const app = buildApp({ logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('fauxqs did not report a TCP address');
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    /** Calls `fn(method)` on every HTTP request the S3 server receives, to count requests per chunk. */
    attach: (fn) => app.server.on('request', (req) => fn(req.method)),
    stop: () => app.close(),
  };
}
