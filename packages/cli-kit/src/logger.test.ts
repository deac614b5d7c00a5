import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, type LoggerOptions } from './logger.js';

/** A stand-in for the pipeline's redactUri: removes user-info and every query. */
const redactUri = (uri: string) => {
  const url = new URL(uri);
  url.username = '';
  url.password = '';
  url.search = '';
  return url.toString();
};

function capture(options: Partial<LoggerOptions> & Pick<LoggerOptions, 'format'>) {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (d: Buffer) => chunks.push(d.toString()));
  const logger = createLogger({ name: 'vgg-test', stream, redactUri, ...options });
  return { logger, text: () => chunks.join('') };
}

describe('createLogger', () => {
  it('writes JSON lines with level, name, base fields and the record fields', () => {
    const { logger, text } = capture({ format: 'json', base: { worker: 'host:1' } });
    logger.info({ run: 'r1', chunk: 3, rows: 10 }, 'chunk done');
    logger.debug('not written at the default level');
    const lines = text().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({
      level: 30,
      name: 'vgg-test',
      worker: 'host:1',
      run: 'r1',
      chunk: 3,
      rows: 10,
      msg: 'chunk done',
    });
  });

  it('removes passwords and presigned queries from fields, nested fields, errors and messages', () => {
    const { logger, text } = capture({ format: 'json' });
    const secret = 's3cr3t-pass';
    logger.warn(
      {
        redis: `rediss://:${secret}@redis.example:6379`,
        sources: [`https://u:${secret}@img.example/a.jpg?X-Amz-Signature=${secret}`],
        message: `fetch of https://img.example/b.jpg?sig=${secret} failed`,
        input: { uri: `https://x:${secret}@img.example/c.jpg` },
        password: secret,
        err: new Error(`cannot reach redis://:${secret}@10.0.0.1:6379`),
      },
      `connecting to redis://:${secret}@redis.example:6379`,
    );
    const out = text();
    expect(out).not.toContain(secret);
    const record = JSON.parse(out) as Record<string, unknown>;
    expect(record).toMatchObject({
      redis: 'rediss://redis.example:6379',
      sources: ['https://img.example/a.jpg'],
      password: '[redacted]',
      input: { uri: 'https://img.example/c.jpg' },
      msg: 'connecting to redis://redis.example:6379',
    });
  });

  it('writes one readable line per record in pretty format, with the run and chunk before the message', () => {
    const { logger, text } = capture({ format: 'pretty', base: { worker: 'host:1' } });
    logger.warn({ run: 'r1', chunk: 2, type: 'chunk-failed' }, 'attempt 1 failed');
    const line = text().trim();
    expect(line.split('\n')).toHaveLength(1);
    expect(line).toMatch(/^\[\d\d:\d\d:\d\d\] WARN: \[host:1\] r1#2: attempt 1 failed$/);
  });
});
