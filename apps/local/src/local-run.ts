import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Logger } from 'vgg-cli-kit';
import { freePort, RedisServerProcess } from 'vgg-local-kit';
import {
  collectRunReport,
  connectRuns,
  createS3Client,
  DEFAULT_KEY_PREFIX,
  DEFAULT_QUEUE_NAME,
  formatDistances,
  mergeDistances,
  planRun,
  progressOf,
  renderRunReport,
  type RunOptionsInput,
  type RunProgress,
  type RunStatus,
  requestedModelIdentity,
  rowNoun,
  type S3ClientOptions,
  schemeOf,
  submitRun,
} from 'vgg-pipeline';

export interface LocalRunOptions {
  sources: string[];
  /** The run's options; `out` is a local directory or an s3:// URI. */
  run: RunOptionsInput;
  /** Worker processes to start here. Default 1. 0 relies on workers elsewhere (distributed mode). */
  workers?: number;
  /** Extra `vgg-worker` flags, e.g. ['--device', 'cuda:0']. */
  workerArgs?: string[];
  /** Use this Redis instead of starting a private redis-server. */
  redisUrl?: string;
  /** Where to look for redis-server (a PATH value). */
  redisSearchPath?: string;
  /** Environment for worker processes (AWS settings and credentials pass through it). */
  workerEnv: Record<string, string | undefined>;
  s3: S3ClientOptions;
  /** Status poll interval in ms. Default 100 (a status read is one small Redis round trip). */
  pollMs?: number;
  onProgress?: (progress: RunProgress) => void;
  /** vgg-local's own log and its workers' records (re-logged with `worker` set to their number). */
  logger?: Logger;
  /** Also log every committed chunk. Default false: the progress bar shows them. */
  verbose?: boolean;
}

export interface LocalRunSummary {
  runId: string;
  status: RunStatus;
  wallSeconds: number;
  imagesPerSecond: number;
  untrained: boolean;
  labelHistogram: [string, number][];
  errorsByReason: [string, number][];
  outDir: string;
  /** The HTML report (beside the outputs when they are local, else in the working directory), or null. */
  reportPath: string | null;
}

/**
 * Runs a whole job on this machine: a private redis-server (unless redisUrl is given), worker processes, the
 * producer, a progress display and a summary. Leaves nothing running, also when it fails.
 */
export async function runLocal(options: LocalRunOptions): Promise<LocalRunSummary> {
  const logger = options.logger;
  const log = (fields: Record<string, unknown>, text: string) => logger?.info(fields, text);
  const started = performance.now();
  const cleanups: (() => Promise<void>)[] = [];
  // A run that cannot work (a bad --model, --taps, ...) is refused before a server or a worker is started: the same
  // check submitRun makes, which must not wait a second behind process start-ups to say "bad flag".
  planRun(options.run);
  try {
    // The workers start (about a second of module loading each) while redis-server starts: they are spawned with
    // the URL of a port picked here and reconnect until the server answers.
    let redisUrl = options.redisUrl;
    let redisServer: Promise<RedisServerProcess> | undefined;
    if (!redisUrl) {
      const port = await freePort();
      redisUrl = `redis://127.0.0.1:${port}`;
      redisServer = RedisServerProcess.create({
        port,
        ...(options.redisSearchPath !== undefined ? { searchPath: options.redisSearchPath } : {}),
      });
    }
    const workers: ChildProcess[] = [];
    cleanups.push(() => stopWorkers(workers));
    const workerBin = vggWorkerBin();
    for (let i = 0; i < (options.workers ?? 1); i++) {
      // The workers take the queue and prefix this run is submitted to, whatever the environment says. They serve
      // no metrics endpoint (several would want one port); a --metrics-port in workerArgs comes later and wins.
      const args = [
        '--json',
        '--queue',
        DEFAULT_QUEUE_NAME,
        '--prefix',
        DEFAULT_KEY_PREFIX,
        '--metrics-port',
        '0',
      ];
      const child = spawn(process.execPath, [workerBin, ...args, ...(options.workerArgs ?? [])], {
        // The AWS SDK's notice that it will need a newer Node is printed by vgg-local itself already; once per worker
        // too would bury the run's own log under copies of it (a user's own setting still wins).
        env: {
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          ...options.workerEnv,
          REDIS_URL: redisUrl,
        },
        stdio: ['ignore', 'inherit', 'pipe'],
      });
      const workerLogger = logger?.child({ worker: i + 1 });
      child.stderr?.on('data', (data: Buffer) => {
        for (const line of data.toString().split('\n')) {
          if (line.trim() && workerLogger) relayWorkerLine(workerLogger, line, options.verbose ?? false);
        }
      });
      workers.push(child);
    }
    if (redisServer) {
      const server = await redisServer;
      // Stopped after the workers (cleanups run in reverse), so they close their connections cleanly.
      cleanups.unshift(() => server.close());
      log({ redis: server.url }, `started private redis-server at ${server.url}`);
    }

    const runs = connectRuns({ redisUrl, connectionName: 'vgg-local', s3: createS3Client(options.s3) });
    cleanups.push(() => runs.close());
    const { runStore } = runs;
    const submitted = await submitRun({ ...options.run, sources: options.sources }, runs);
    log(
      {
        run: submitted.runId,
        inputs: submitted.totalInputs,
        chunks: submitted.totalChunks,
        enqueued: submitted.enqueued,
      },
      `${submitted.totalInputs} ${rowNoun(submitted.spec)} in ${submitted.totalChunks} chunk${submitted.totalChunks === 1 ? '' : 's'} (${submitted.enqueued} enqueued)`,
    );
    let status: RunStatus | null = null;
    for (;;) {
      status = await runStore.status(submitted.runId);
      if (!status) throw new Error(`run ${submitted.runId} disappeared from Redis`);
      options.onProgress?.(progressOf(status));
      if (status.state === 'finalized' || status.state === 'cancelled') break;
      const dead = workers.filter((w) => w.exitCode !== null);
      if (workers.length > 0 && dead.length === workers.length) {
        throw new Error(
          `all workers exited (codes ${dead.map((w) => w.exitCode).join(', ')}); see their log above`,
        );
      }
      await new Promise((r) => setTimeout(r, options.pollMs ?? 100));
    }
    const wallSeconds = (performance.now() - started) / 1000;
    // The workers have nothing left to do here: they stop while the report is written.
    const stopping = stopWorkers(workers);
    const labels = new Map<string, number>();
    const reasons = new Map<string, number>();
    for (const r of status.records) {
      for (const [l, n] of Object.entries(r.top1Histogram)) labels.set(l, (labels.get(l) ?? 0) + n);
      for (const [e, n] of Object.entries(r.errorsByReason)) reasons.set(e, (reasons.get(e) ?? 0) + n);
    }
    const byCount = (a: [string, number], b: [string, number]) => b[1] - a[1] || a[0].localeCompare(b[0]);
    const out = status.spec.output.out;
    let reportPath: string | null =
      schemeOf(out) !== undefined
        ? path.resolve(`report-${submitted.runId}.html`)
        : path.join(out, submitted.runId, 'report.html');
    try {
      const report = await collectRunReport(submitted.runId, { runStore, s3: runs.s3 });
      await writeFile(reportPath, renderRunReport(report));
    } catch (error) {
      logger?.warn(
        { run: submitted.runId, err: error },
        `could not write the report: ${(error as Error).message}`,
      );
      reportPath = null;
    }
    await stopping;
    return {
      runId: submitted.runId,
      status,
      wallSeconds,
      imagesPerSecond: status.rows / wallSeconds,
      untrained: requestedModelIdentity(status.spec.model).untrained,
      labelHistogram: [...labels].sort(byCount),
      errorsByReason: [...reasons].sort(byCount),
      outDir: `${status.spec.output.out}/${submitted.runId}`,
      reportPath,
    };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
}

/**
 * The `vgg-worker` executable, found through npm's metadata of the vgg-worker package: vgg-local runs workers as
 * processes, as a cluster would, and imports none of their code.
 */
function vggWorkerBin(): string {
  const manifest = createRequire(import.meta.url).resolve('vgg-worker/package.json');
  const { bin } = JSON.parse(readFileSync(manifest, 'utf8')) as { bin: Record<string, string> };
  const relative = bin['vgg-worker'];
  if (relative === undefined) throw new Error(`${manifest} names no vgg-worker executable`);
  return path.join(path.dirname(manifest), relative);
}

/**
 * Re-logs one of a worker's JSON log lines under vgg-local's logger, at its level, with `worker` set to the worker's
 * number; its start, its stop, committed chunks and the finalised run only when verbose (the progress bar and the
 * summary show them).
 */
function relayWorkerLine(logger: Logger, line: string, verbose: boolean): void {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    logger.warn(line); // not a record: a warning printed by Node or a library
    return;
  }
  const routine = ['ready', 'stopping', 'chunk-done', 'run-finalized'];
  if (!verbose && routine.includes(String(record.type))) return;
  const {
    level,
    time: _time,
    pid: _pid,
    hostname: _hostname,
    name: _name,
    worker: id,
    msg,
    ...fields
  } = record;
  logger[levelName(Number(level))]({ ...fields, workerId: id }, String(msg ?? ''));
}

function levelName(level: number): 'debug' | 'info' | 'warn' | 'error' {
  if (level >= 50) return 'error';
  if (level >= 40) return 'warn';
  if (level >= 30) return 'info';
  return 'debug';
}

async function stopWorkers(workers: ChildProcess[], deadlineMs = 20_000): Promise<void> {
  await Promise.all(
    workers.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
      await exited;
      clearTimeout(timer);
    }),
  );
}

export function formatSummary(summary: LocalRunSummary): string {
  const s = summary.status;
  // A pair run's rows are pairs, summarised by their distances instead of labels.
  const noun = rowNoun(s.spec);
  const untrained =
    noun === 'pairs'
      ? '  ** UNTRAINED: seeded random weights; the distances are not perceptual. Pass --weights for real ones. **'
      : '  ** UNTRAINED: seeded random weights; labels are meaningless. Pass --weights to classify for real. **';
  const lines = [
    '',
    `Run ${summary.runId} finished in ${summary.wallSeconds.toFixed(1)} s`,
    `  ${noun.padEnd(11)} ${s.rows} (${s.ok} ok, ${s.error} errors)`,
    `  throughput  ${summary.imagesPerSecond.toFixed(1)} ${noun}/s end to end (including model load)`,
    `  model       ${s.spec.model.model}${summary.untrained ? untrained : ''}`,
    `  outputs     ${summary.outDir}/  (Parquet shards + _manifest.json)`,
    `  report      ${summary.reportPath ?? 'not written (see the warning above)'}`,
  ];
  const distances = formatDistances(mergeDistances(s.records));
  if (distances !== null) lines.push(`  distance    ${distances}`);
  if (summary.labelHistogram.length > 0) {
    lines.push('  top-1 labels:');
    for (const [label, n] of summary.labelHistogram.slice(0, 10))
      lines.push(`    ${String(n).padStart(6)}  ${label}`);
    if (summary.labelHistogram.length > 10)
      lines.push(`    ... ${summary.labelHistogram.length - 10} more labels`);
  }
  if (summary.errorsByReason.length > 0) {
    lines.push('  errors by reason:');
    for (const [reason, n] of summary.errorsByReason) lines.push(`    ${String(n).padStart(6)}  ${reason}`);
  }
  return lines.join('\n');
}
