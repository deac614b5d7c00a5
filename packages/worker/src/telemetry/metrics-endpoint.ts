import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { ModelState } from './worker-metrics.js';

/** `/readyz`'s answer (infra/README.md). */
export interface Readiness {
  ready: boolean;
  /** Redis answered PING within the timeout. */
  redis: boolean;
  model: ModelState;
  stopping: boolean;
}

export interface MetricsEndpointOptions {
  host: string;
  /** 0 picks a free port (tests); {@link MetricsEndpoint.port} tells which. */
  port: number;
  registry: Registry;
  /** BullMQ's queue metrics in the exposition format; rejects (or times out) when Redis does not answer. */
  queueMetrics: () => Promise<string>;
  readiness: () => Promise<Readiness>;
  /** How long /metrics waits for the queue metrics before serving without them. Default 1000. */
  queueTimeoutMs?: number;
  onWarning?: (message: string) => void;
}

/**
 * The worker's HTTP endpoint: `/metrics`, `/healthz` and `/readyz`. It runs on the thread that renews BullMQ locks,
 * so a blocked event loop shows as failing liveness probes instead of silently losing locks.
 */
export class MetricsEndpoint {
  readonly #server: Server;
  readonly #options: MetricsEndpointOptions;
  #closed: Promise<void> | null = null;

  private constructor(server: Server, options: MetricsEndpointOptions) {
    this.#server = server;
    this.#options = options;
  }

  /** Listens; rejects with the listen error (EADDRINUSE: the caller decides whether that is fatal). */
  static async create(options: MetricsEndpointOptions): Promise<MetricsEndpoint> {
    let endpoint: MetricsEndpoint | undefined;
    const server = createServer((request, response) => {
      endpoint?.handle(request, response).catch((error: unknown) => {
        options.onWarning?.(`metrics endpoint: ${(error as Error).message}`);
        if (!response.headersSent) response.writeHead(500);
        response.end();
      });
    });
    // Probes and scrapes are short; an idle keep-alive socket must not hold close() up.
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    endpoint = new MetricsEndpoint(server, options);
    return endpoint;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** Stops listening and ends open connections. Memoised. */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    return this.#closed;
  }

  async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://worker');
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    switch (url.pathname) {
      case '/healthz':
        // Liveness is only that this event loop answers; a Redis outage must not restart every worker.
        send(response, 200, 'text/plain; charset=utf-8', 'ok\n');
        return;
      case '/readyz': {
        const readiness = await this.#options.readiness();
        send(response, readiness.ready ? 200 : 503, 'application/json', `${JSON.stringify(readiness)}\n`);
        return;
      }
      case '/metrics': {
        const { registry } = this.#options;
        const [own, queue] = await Promise.all([registry.metrics(), this.#queueMetrics()]);
        const mine = canonicalNaN(own);
        const body = queue === null ? mine : `${mine.trimEnd()}\n${tightenLabels(queue).trimEnd()}\n`;
        send(response, 200, registry.contentType, body);
        return;
      }
      default:
        send(response, 404, 'text/plain; charset=utf-8', 'not found: try /metrics, /healthz or /readyz\n');
    }
  }

  /** BullMQ's lines, or null when Redis does not answer in time: the worker's own metrics are still served. */
  async #queueMetrics(): Promise<string | null> {
    const timeoutMs = this.#options.queueTimeoutMs ?? 1_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), timeoutMs);
    });
    try {
      return await Promise.race([this.#options.queueMetrics(), timeout]);
    } catch {
      return null;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * BullMQ writes `{queue="q", state="active"}`, with a space after the comma. Prometheus reads that, but stricter
 * parsers (the Python client's and its ports) reject the line, so the endpoint serves the canonical form.
 */
export function tightenLabels(text: string): string {
  return text.replace(/(?<!\\)",[ \t]+(?=[a-zA-Z_][a-zA-Z0-9_]*=")/g, '",');
}

function send(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  response.end(body);
}

/**
 * prom-client writes NaN as `Nan` (e.g. `nodejs_eventloop_lag_mean_seconds` before the first sample). Prometheus
 * reads any case, but the format says `NaN` and stricter parsers hold to it, so the endpoint serves that.
 */
export function canonicalNaN(text: string): string {
  return text.replace(/ Nan$/gm, ' NaN');
}
