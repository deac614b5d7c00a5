// End-to-end runs through the real pipeline: producer (submitRun) → Redis/BullMQ → worker processes → fauxqs S3.
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectRuns, submitRun } from 'vgg-pipeline';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker-process.mjs');
const CONTROL = path.join(path.dirname(fileURLToPath(import.meta.url)), 'eld-control.mjs');

/** Starts a worker process; resolves once VggWorker.create() returned. */
export function startWorkerProcess({ env, statsFile, options }) {
  const child = spawn(process.execPath, [WORKER, statsFile, JSON.stringify(options)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const waiters = [];
  child.stdout.on('data', (d) => {
    out += d.toString();
    for (const w of waiters.splice(0)) w();
  });
  const waitFor = (word) =>
    new Promise((resolve, reject) => {
      const check = () => {
        if (out.includes(word)) {
          out = out.replace(word, '');
          resolve();
        } else if (child.exitCode !== null) reject(new Error(`worker exited with ${child.exitCode}`));
        else waiters.push(check);
      };
      child.once('exit', () => check());
      check();
    });
  return {
    child,
    ready: waitFor('ready'),
    reset: () => {
      const r = waitFor('reset');
      child.kill('SIGUSR2');
      return r;
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null)
        return JSON.parse(await readFile(statsFile, 'utf8'));
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
      return JSON.parse(await readFile(statsFile, 'utf8'));
    },
  };
}

/** A queue + run store on one key prefix. */
export function openQueue(redisUrl, prefix, s3) {
  return connectRuns({ redisUrl, prefix, s3 });
}

/**
 * Polls the run every 50 ms until it is finalised; `commits` gets (ms since `started`, rows) whenever the committed
 * row count grew, for the steady-state rate.
 */
export async function waitFinalized(runStore, runId, timeoutMs, started = performance.now(), commits = []) {
  const deadline = Date.now() + timeoutMs;
  let rows = 0;
  for (;;) {
    const status = await runStore.status(runId);
    if (status && status.rows > rows) {
      rows = status.rows;
      commits.push({ ms: performance.now() - started, rows });
    }
    if (status?.state === 'finalized') return status;
    if (Date.now() > deadline)
      throw new Error(
        `run ${runId} not finalised in ${timeoutMs} ms (${status?.committedChunks ?? 0} chunks committed)`,
      );
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The marginal (steady-state) rate: rows per second between the first and the last commit, so start-up (process
 * and pipeline fill, first fetches) and the finalisation tail are left out; fixed cost is the rest of the wall time.
 */
export function steadyState(commits, images, seconds) {
  const first = commits[0];
  const last = commits.at(-1);
  // Chunks run two at a time and often commit in pairs: fewer than four commits give no meaningful slope.
  if (!first || !last || commits.length < 4 || last.ms <= first.ms)
    return { imagesPerSec: null, fixedSeconds: null, commits: commits.length };
  const imagesPerSec = (last.rows - first.rows) / ((last.ms - first.ms) / 1000);
  return { imagesPerSec, fixedSeconds: seconds - images / imagesPerSec, commits: commits.length };
}

/**
 * Starts `workers` processes, warms them with a small run of the same model, resets their counters, then times
 * one run over `manifest` from the start of submitRun to the finalised run state.
 */
export async function runEndToEnd({
  redisUrl,
  s3,
  s3Counter,
  env,
  model,
  preprocess,
  manifest,
  warmManifest,
  images,
  workers,
  chunkSize,
  outUri,
  tag,
  workerOptions,
  timeoutMs,
}) {
  const prefix = `bench-${tag}`;
  const q = openQueue(redisUrl, prefix, s3);
  const procs = [];
  let control;
  try {
    for (let i = 0; i < workers; i++) {
      procs.push(
        startWorkerProcess({
          env: { ...env, VGG_PREFIX: prefix },
          statsFile: path.join(tmpdir(), `vgg-bench-${tag}-${i}.json`),
          options: { prefix, ...workerOptions },
        }),
      );
    }
    // The event-loop control: an idle process measuring its own loop over the same interval (bench/eld-control.mjs).
    const controlFile = path.join(tmpdir(), `vgg-bench-${tag}-control.json`);
    control = spawn(process.execPath, [CONTROL, controlFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    const controlSays = (word) =>
      new Promise((resolve) => {
        let text = '';
        const on = (d) => {
          text += d.toString();
          if (text.includes(word)) {
            control.stdout.off('data', on);
            resolve();
          }
        };
        control.stdout.on('data', on);
      });
    const controlReady = controlSays('ready');
    await Promise.all([...procs.map((p) => p.ready), controlReady]);
    const deps = { queue: q.queue, runStore: q.runStore, s3 };
    const warm = await submitRun(
      { sources: [warmManifest], out: outUri, runId: `${tag}-warm`, ...model, ...preprocess, chunkSize },
      deps,
    );
    await waitFinalized(q.runStore, warm.runId, timeoutMs);
    const controlReset = controlSays('reset');
    control.kill('SIGUSR2');
    await Promise.all([...procs.map((p) => p.reset()), controlReset]);
    await q.redis.config('RESETSTAT');
    s3Counter.reset();
    const started = performance.now();
    const run = await submitRun(
      { sources: [manifest], out: outUri, runId: `${tag}-run`, ...model, ...preprocess, chunkSize },
      deps,
    );
    const commits = [];
    const status = await waitFinalized(q.runStore, run.runId, timeoutMs, started, commits);
    const seconds = (performance.now() - started) / 1000;
    const steady = steadyState(commits, images, seconds);
    const s3Requests = s3Counter.snapshot();
    const commandstats = await q.redis.info('commandstats');
    let redisCalls = 0;
    for (const m of commandstats.matchAll(/calls=(\d+)/g)) redisCalls += Number(m[1]);
    const stats = await Promise.all(procs.splice(0).map((p) => p.stop()));
    const controlExit = new Promise((r) => control.once('exit', r));
    control.kill('SIGTERM');
    await controlExit;
    const eventLoopControlMs = JSON.parse(await readFile(controlFile, 'utf8'));
    await rm(controlFile, { force: true });
    return {
      workers,
      images,
      chunks: run.totalChunks,
      ok: status.ok,
      error: status.error,
      seconds,
      imagesPerSec: images / seconds,
      steadyImagesPerSec: steady.imagesPerSec,
      fixedSeconds: steady.fixedSeconds,
      redisCallsPerChunk: redisCalls / run.totalChunks,
      s3RequestsPerChunk: Object.fromEntries(
        Object.entries(s3Requests).map(([k, v]) => [k, v / run.totalChunks]),
      ),
      perWorker: stats,
      eventLoopControlMs,
    };
  } finally {
    if (control && control.exitCode === null && control.signalCode === null) control.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.stop().catch(() => undefined)));
    await q.queue.obliterate({ force: true }).catch(() => undefined);
    await q.close();
    await rm(path.join(tmpdir(), `vgg-bench-${tag}-0.json`), { force: true });
  }
}
