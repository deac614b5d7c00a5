import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Route = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;

/**
 * A tiny HTTP server on a free loopback port for fetch tests: fixed routes, everything else 404. Records every
 * request so tests can assert on what was asked for.
 */
export class TestHttpServer {
  readonly requests: { method: string; url: string }[] = [];
  private readonly routes = new Map<string, Route>();
  readonly #server: Server;
  readonly origin: string;

  private constructor(server: Server, origin: string) {
    this.#server = server;
    this.origin = origin;
  }

  static async start(routes: Record<string, Route> = {}): Promise<TestHttpServer> {
    let instance: TestHttpServer | undefined;
    const server = createServer((request, response) => {
      instance?.requests.push({ method: request.method ?? 'GET', url: request.url ?? '/' });
      const pathname = new URL(request.url ?? '/', 'http://x').pathname;
      const route = instance?.routes.get(pathname);
      if (route === undefined) {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      Promise.resolve(route(request, response)).catch((error: unknown) => {
        if (!response.headersSent) response.writeHead(500);
        response.end(String(error));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    instance = new TestHttpServer(server, `http://127.0.0.1:${port}`);
    for (const [path, route] of Object.entries(routes)) instance.route(path, route);
    return instance;
  }

  /** Absolute URL of a path on this server. */
  url(path: string): string {
    return `${this.origin}${path.startsWith('/') ? path : `/${path}`}`;
  }

  route(path: string, route: Route): this {
    this.routes.set(path, route);
    return this;
  }

  /** Serves fixed bytes with a Content-Length. */
  serveBytes(path: string, bytes: Uint8Array, contentType = 'application/octet-stream'): this {
    return this.route(path, (_request, response) => {
      response.writeHead(200, { 'content-type': contentType, 'content-length': bytes.byteLength }).end(bytes);
    });
  }

  /** Serves a file read at request time. */
  serveFile(path: string, file: string, contentType = 'application/octet-stream'): this {
    return this.route(path, async (_request, response) => {
      const bytes = await readFile(file);
      response.writeHead(200, { 'content-type': contentType, 'content-length': bytes.byteLength }).end(bytes);
    });
  }

  /** Answers with a redirect to `location` (relative or absolute). */
  redirect(path: string, location: string, status = 302): this {
    return this.route(path, (_request, response) => {
      response.writeHead(status, { location }).end();
    });
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve, reject) =>
      this.#server.close((error) => (error ? reject(error) : resolve())),
    );
  }
}
