import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { BatchObservation, Stage, StatsObserver } from '../stats.js';

/** Stages of `vgg_worker_stage_seconds` (infra/README.md): the stats' stages, with waits split by where they are. */
export type MetricStage = 'fetch' | 'decode' | 'queue_wait' | 'batch_wait' | 'inference' | 'write';

/** Whether the worker has a model: `none` until a run's first chunk loads one. */
export type ModelState = 'none' | 'loading' | 'loaded';

export type ChunkOutcomeLabel = 'done' | 'failed' | 'handed_back';

/** The model as `vgg_worker_model_info` labels it. */
export interface ModelInfo {
  variant: string;
  provider: string;
  untrained: boolean;
  weightsSha256: string;
}

const STAGE_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600,
];
const FILL_BUCKETS = [0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1];
const LOAD_BUCKETS = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/**
 * The worker's Prometheus metrics, exactly as infra/README.md's contract names them (the dashboard, the PodMonitor
 * and the alerts read these names). One registry per worker, so two workers in one process do not share counters;
 * prom-client's default process metrics (RSS, CPU, event-loop lag) are registered in it without a prefix. There is
 * no `run` label: runs are unbounded over time.
 */
export class WorkerMetrics implements StatsObserver {
  readonly registry = new Registry();
  readonly #images: Counter<'status' | 'reason'>;
  readonly #stages: Histogram<'stage'>;
  readonly #fill: Histogram;
  readonly #busy: Counter;
  readonly #modelLoad: Histogram<'provider'>;
  readonly #modelInfo: Gauge<'model' | 'provider' | 'untrained' | 'weights_sha256'>;
  readonly #inFlight: Gauge;
  readonly #chunks: Counter<'outcome'>;
  #loading = 0;
  readonly #loaded = new Set<string>();

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.#images = new Counter({
      name: 'vgg_worker_images_total',
      help: 'Rows written in committed shards, by status and error reason',
      labelNames: ['status', 'reason'],
      registers,
    });
    this.#stages = new Histogram({
      name: 'vgg_worker_stage_seconds',
      help: 'Time per stage: fetch, decode, batch_wait (per image), queue_wait, write (per chunk), inference (per batch)',
      labelNames: ['stage'],
      buckets: STAGE_BUCKETS,
      registers,
    });
    this.#fill = new Histogram({
      name: 'vgg_worker_batch_fill_ratio',
      help: 'Images in an inference call divided by the batch size',
      buckets: FILL_BUCKETS,
      registers,
    });
    this.#busy = new Counter({
      name: 'vgg_worker_inference_busy_seconds_total',
      help: 'Wall time inside session.run; its rate is the inference engine busy ratio',
      registers,
    });
    this.#modelLoad = new Histogram({
      name: 'vgg_worker_model_load_seconds',
      help: 'Fetching model files, building the graph and creating the session',
      labelNames: ['provider'],
      buckets: LOAD_BUCKETS,
      registers,
    });
    this.#modelInfo = new Gauge({
      name: 'vgg_worker_model_info',
      help: 'The loaded model (1 while loaded)',
      labelNames: ['model', 'provider', 'untrained', 'weights_sha256'],
      registers,
    });
    this.#inFlight = new Gauge({
      name: 'vgg_worker_chunks_in_flight',
      help: 'Chunks this worker is processing now',
      registers,
    });
    this.#chunks = new Counter({
      name: 'vgg_worker_chunks_total',
      help: 'Chunks committed (done), attempts that failed, chunks handed back to the queue at shutdown',
      labelNames: ['outcome'],
      registers,
    });
    // Every label combination a dashboard sums over exists from the start, so rate() sees the first increment.
    this.#images.inc({ status: 'ok', reason: '' }, 0);
    for (const outcome of ['done', 'failed', 'handed_back'] as const) this.#chunks.inc({ outcome }, 0);
  }

  /** {@link StatsObserver}: the stats' own stages, except `wait` (decoded until inferred), which batch_wait splits. */
  stage(stage: Stage, ms: number): void {
    if (stage === 'fetch' || stage === 'decode' || stage === 'write') this.observeStage(stage, ms / 1000);
  }

  /** {@link StatsObserver}: one inference call. */
  batch({ size, capacity, inferenceMs, waitsMs }: BatchObservation): void {
    this.#fill.observe(size / capacity);
    this.#busy.inc(inferenceMs / 1000);
    this.observeStage('inference', inferenceMs / 1000);
    for (const ms of waitsMs) this.observeStage('batch_wait', ms / 1000);
  }

  observeStage(stage: MetricStage, seconds: number): void {
    this.#stages.observe({ stage }, Math.max(0, seconds));
  }

  /** A committed shard's rows. */
  rowsCommitted(record: { ok: number; errorsByReason: Readonly<Record<string, number>> }): void {
    this.#images.inc({ status: 'ok', reason: '' }, record.ok);
    for (const [reason, n] of Object.entries(record.errorsByReason))
      this.#images.inc({ status: 'error', reason }, n);
  }

  chunkStarted(): void {
    this.#inFlight.inc();
  }

  chunkEnded(): void {
    this.#inFlight.dec();
  }

  chunkOutcome(outcome: ChunkOutcomeLabel): void {
    this.#chunks.inc({ outcome });
  }

  modelLoading(): void {
    this.#loading += 1;
  }

  /** A load ended: with the model and its time when it succeeded, null when it failed. */
  modelLoadEnded(loaded: { model: ModelInfo; seconds: number } | null): void {
    this.#loading -= 1;
    if (loaded === null) return;
    const { model, seconds } = loaded;
    this.#modelLoad.observe({ provider: providerLabel(model.provider) }, seconds);
    const labels = infoLabels(model);
    this.#modelInfo.set(labels, 1);
    this.#loaded.add(JSON.stringify(labels));
  }

  modelUnloaded(model: ModelInfo): void {
    const labels = infoLabels(model);
    this.#modelInfo.remove(labels);
    this.#loaded.delete(JSON.stringify(labels));
  }

  get modelState(): ModelState {
    if (this.#loading > 0) return 'loading';
    return this.#loaded.size > 0 ? 'loaded' : 'none';
  }
}

/** `cuda:1` and `cuda` are one provider to a histogram; the device index would split series per GPU slot. */
function providerLabel(provider: string): string {
  return provider.split(':')[0] ?? provider;
}

function infoLabels(model: ModelInfo) {
  return {
    model: model.variant,
    provider: providerLabel(model.provider),
    untrained: String(model.untrained),
    weights_sha256: model.weightsSha256,
  };
}
