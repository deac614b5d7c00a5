import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FaultProxyOptions {
  /** Where requests go when no fault is injected, e.g. http://127.0.0.1:9000. */
  target: string;
  /** Share of requests answered with a 503. */
  errorRate: number;
  /** Share of requests whose connection is reset without a response. */
  resetRate: number;
  /** Share of requests delayed by delayMs before being forwarded. */
  delayRate: number;
  delayMs: number;
}

/** An HTTP proxy on loopback that injects 5xx, connection resets and delays at set rates. */
export class FaultProxy {
  readonly counts = { forwarded: 0, errors: 0, resets: 0, delays: 0 };
  private constructor(
    private readonly server: Server,
    readonly origin: string,
  ) {}

  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const target = new URL(options.target);
    let proxy: FaultProxy | undefined;
    const server = createServer((req, res) => {
      const counts = proxy!.counts;
      const roll = Math.random();
      if (roll < options.resetRate) {
        counts.resets++;
        req.socket.destroy();
        return;
      }
      if (roll < options.resetRate + options.errorRate) {
        counts.errors++;
        req.resume();
        res.writeHead(503, { 'content-type': 'application/xml', connection: 'close' });
        res.end('<Error><Code>SlowDown</Code><Message>injected fault</Message></Error>');
        return;
      }
      const forward = () => {
        counts.forwarded++;
        const upstream = request(
          {
            hostname: target.hostname,
            port: target.port,
            method: req.method,
            path: req.url,
            headers: req.headers,
          },
          (upstreamRes) => {
            res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
            upstreamRes.pipe(res);
          },
        );
        upstream.on('error', () => res.destroy());
        req.pipe(upstream);
      };
      if (roll < options.resetRate + options.errorRate + options.delayRate) {
        counts.delays++;
        setTimeout(forward, options.delayMs);
      } else forward();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    proxy = new FaultProxy(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return proxy;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}
