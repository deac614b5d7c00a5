import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from './fetch-http.js';
import { HostLimiter } from './host-limiter.js';

describe('HostLimiter', () => {
  it('keeps at most perHost requests in flight to one host, hosts apart, local inputs unlimited', async () => {
    const limiter = new HostLimiter({ perHost: 2 });
    const active = new Map<string, number>();
    const peak = new Map<string, number>();
    const task = (key: string) => async () => {
      active.set(key, (active.get(key) ?? 0) + 1);
      peak.set(key, Math.max(peak.get(key) ?? 0, active.get(key) ?? 0));
      await new Promise((resolve) => setTimeout(resolve, 10));
      active.set(key, (active.get(key) ?? 0) - 1);
    };
    await Promise.all([
      ...Array.from({ length: 6 }, (_, i) => limiter.run(`https://a.example/${i}.jpg`, task('a'))),
      ...Array.from({ length: 6 }, (_, i) => limiter.run(`https://b.example:8443/${i}.jpg`, task('b'))),
      ...Array.from({ length: 6 }, (_, i) => limiter.run(`/data/${i}.jpg`, task('local'))),
    ]);
    expect(peak).toEqual(
      new Map([
        ['a', 2],
        ['b', 2],
        ['local', 6],
      ]),
    );
  });

  it('holds a paused host until its Retry-After has passed', async () => {
    const limiter = new HostLimiter({ perHost: 4 });
    limiter.pause('http://slow.example/x.jpg', 300);
    const started = Date.now();
    await limiter.run('http://slow.example/y.jpg', async () => undefined);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    const other = Date.now();
    await limiter.run('http://fast.example/y.jpg', async () => undefined);
    expect(Date.now() - other).toBeLessThan(100);
  });
});

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP dates', () => {
    const now = Date.parse('2026-12-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Tue, 01 Dec 2026 00:00:05 GMT', now)).toBe(5_000);
    expect(parseRetryAfter('Mon, 30 Nov 2026 00:00:05 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
