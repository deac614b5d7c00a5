import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { MetricsEndpointError } from '../errors.js';
import type { ResolvedWorkerOptions } from '../worker-options.js';
import { MetricsEndpoint, type Readiness } from './metrics-endpoint.js';
import type { WorkerMetrics } from './worker-metrics.js';

export interface WorkerEndpointParts {
  metrics: WorkerMetrics;
  /** A connection of the worker's own, for readiness PINGs. */
  redis: Redis;
  isStopping: () => boolean;
  onWarning: (message: string) => void;
}

/** How long Redis has to answer /readyz's PING. */
const PING_TIMEOUT_MS = 1_000;

/**
 * Opens the worker's HTTP endpoint as infra/README.md's contract says: on metricsPort (0: none). A port that is
 * taken fails when it was given and only warns when it is the default, so two workers on one machine both run.
 */
export async function openWorkerEndpoint(
  options: ResolvedWorkerOptions,
  parts: WorkerEndpointParts,
): Promise<{ readonly port: number; close(): Promise<void> } | null> {
  if (options.metricsPort === 0) return null;
  const queue = new Queue(options.queueName, { connection: options.connect(), prefix: options.prefix });
  queue.on('error', () => undefined); // /metrics leaves the bullmq_* lines out while Redis is away
  const readiness = async (): Promise<Readiness> => {
    const redis = await answersPing(parts.redis);
    const stopping = parts.isStopping();
    const model = parts.metrics.modelState;
    return { ready: redis && !stopping && model !== 'loading', redis, model, stopping };
  };
  try {
    const endpoint = await MetricsEndpoint.create({
      host: options.metricsHost,
      port: options.metricsPort,
      registry: parts.metrics.registry,
      queueMetrics: () => queue.exportPrometheusMetrics(),
      readiness,
      onWarning: parts.onWarning,
    });
    return {
      port: endpoint.port,
      close: async () => {
        await endpoint.close();
        await queue.disconnect();
      },
    };
  } catch (error) {
    await queue.disconnect();
    const { metricsHost: host, metricsPort: port } = options;
    const inUse = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
    if (inUse && !options.metricsPortGiven) {
      parts.onWarning(
        `metrics port ${port} on ${host} is in use (another worker?): running without /metrics, /healthz and /readyz; set --metrics-port to another port, or 0`,
      );
      return null;
    }
    throw new MetricsEndpointError(host, port, error);
  }
}

async function answersPing(redis: Redis): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS);
  });
  try {
    return await Promise.race([redis.ping().then((reply) => reply === 'PONG'), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
