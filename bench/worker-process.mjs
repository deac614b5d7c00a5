// One benchmark worker process: VggWorker wired exactly as apps/worker/src/main.ts wires it, plus what the
// benchmark needs from inside the process (stage times, batch fill, event-loop delay, peak RSS). On SIGTERM it
// closes the worker and writes those to the stats file given as argv[2]; argv[3] is a JSON of VggWorkerOptions.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createRedisConnection, createS3Client, s3ClientOptionsFromEnv } from 'vgg-pipeline';
import { VggWorker } from 'vgg-chunk-worker';
import { peakRssBytes } from './peak-rss.mjs';

const [statsFile, optionsJson] = process.argv.slice(2);
if (!statsFile) throw new Error('usage: worker-process.mjs <stats.json> [options-json]');
const extra = optionsJson ? JSON.parse(optionsJson) : {};
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const eld = monitorEventLoopDelay({ resolution: 2 });
let chunks = 0;
let modelMs = null;
const worker = await VggWorker.create({
  connect: () => createRedisConnection({ url: redisUrl, blocking: true, connectionName: 'vgg-bench-worker' }),
  s3: createS3Client(s3ClientOptionsFromEnv(process.env)),
  prefix: process.env.VGG_PREFIX ?? 'vgg',
  provider: 'cpu',
  ...extra,
  onEvent: (event) => {
    if (event.type === 'chunk-done') chunks += 1;
    if (event.type === 'model-loaded') {
      modelMs = event.ms;
      // Model loading blocks briefly by design; the delay that matters is while chunks run.
      eld.reset();
    }
    if (event.type === 'chunk-failed' || event.type === 'warning')
      process.stderr.write(`${JSON.stringify(event)}\n`);
  },
});
eld.enable();
process.stdout.write('ready\n');
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  eld.disable();
  if (profiler) {
    const { profile } = await profiler.post('Profiler.stop');
    writeFileSync(path.join(profileDir, `worker-${process.pid}.cpuprofile`), JSON.stringify(profile));
  }
  await worker.close(10_000);
  const ms = (ns) => Math.round((ns / 1e6) * 10) / 10;
  writeFileSync(
    statsFile,
    JSON.stringify({
      stageMs: worker.stats.stageMs,
      batches: worker.stats.batches,
      chunks,
      modelMs,
      eventLoopDelayMs: { p50: ms(eld.percentile(50)), p99: ms(eld.percentile(99)), max: ms(eld.max) },
      peakRssBytes: peakRssBytes(),
    }),
  );
  process.exit(0);
};
// BENCH_CPU_PROFILE=<dir>: a CPU profile of this process's main thread over the measurement, for `node
// bench/long-tasks.mjs` (what runs on the event loop when its delay is high).
const profileDir = process.env.BENCH_CPU_PROFILE;
const profiler = profileDir ? new Session() : null;
profiler?.connect();
process.on('SIGUSR2', () => {
  void profiler
    ?.post('Profiler.setSamplingInterval', { interval: 500 })
    .then(() => profiler.post('Profiler.enable'))
    .then(() => profiler.post('Profiler.start'));
  for (const key of Object.keys(worker.stats.stageMs)) worker.stats.stageMs[key] = 0;
  worker.stats.batches.count = 0;
  worker.stats.batches.images = 0;
  chunks = 0;
  eld.reset();
  process.stdout.write('reset\n');
});
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
