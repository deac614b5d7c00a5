// Fixed cost of `vgg-local`: the time a whole small job spends beyond model load and inference. Spawns the real
// `vgg-local` bin (private redis-server, a worker process, producer, finalisation, shutdown) on a folder of N
// images and timestamps each line it prints; model load comes from the worker's own "model ... loaded in" line.
//
//   node bench/fixed-cost.mjs [--images 48] [--model vgg16] [--repeat 1] [--json] [--dir images-dir]
//
// fixed cost = process exit - model load - inference time, where inference time is the sum of the chunks'
// engine time if known, else images / --steady-rate (img/s). Without --steady-rate the phases alone are printed.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureImages } from './images.mjs';
import { median } from './stats.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

const defaultBin = path.join(here, '..', 'apps', 'local', 'bin', 'vgg-local.js');

const SMALL_MODEL_ARGS = ['--model', '[16,M,32,M,64,M]', '--classifier-width', '256', '--seed', '1'];

/** The caller's environment less what would point vgg-local at shared servers: it starts its own Redis. */
function localEnv() {
  const env = { ...process.env, FORCE_COLOR: '0' };
  for (const key of ['REDIS_URL', 'VGG_OUT', 'VGG_PREFIX', 'VGG_QUEUE']) delete env[key];
  return env;
}

/** Runs vgg-local once over `dir`; returns the ms offsets of its phases from spawn. */
export async function measureLocalRun({ dir, model, extraArgs = [], bin = defaultBin }) {
  const out = await mkdtemp(path.join(tmpdir(), 'vgg-fixed-cost-'));
  const started = performance.now();
  const at = () => performance.now() - started;
  const phases = {};
  const lines = [];
  const child = spawn(
    process.execPath,
    [
      bin,
      dir,
      ...(model === 'small' ? SMALL_MODEL_ARGS : ['--model', model]),
      '--out',
      out,
      '--verbose',
      '--chunk-size',
      '16',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: localEnv() },
  );
  let chunks = 0;
  const onLine = (line) => {
    const t = at();
    lines.push(`${(t / 1000).toFixed(2).padStart(6)} s  ${line}`);
    // vgg-local logs JSON records when its output is not a terminal (pino); the summary is plain text.
    let rec = null;
    if (line.startsWith('{')) {
      try {
        rec = JSON.parse(line);
      } catch {}
    }
    if (!rec) {
      if (/^Run \S+ finished in/.test(line)) phases.summaryMs ??= t;
      return;
    }
    if (/started private redis-server/.test(rec.msg ?? '')) phases.redisReadyMs ??= t;
    if (rec.inputs !== undefined && rec.chunks !== undefined) phases.submittedMs ??= t;
    if (rec.worker !== 1) return;
    if (rec.type === 'ready') phases.workerReadyMs ??= t;
    if (rec.type === 'model-loaded') {
      phases.modelLoadedMs ??= t;
      phases.modelLoadMs = rec.ms;
    }
    if (rec.type === 'chunk-done') {
      chunks += 1;
      phases.firstChunkMs ??= t;
      phases.lastChunkMs = t;
    }
    if (rec.type === 'run-finalized') phases.finalizedMs ??= t;
  };
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream.on('data', (d) => {
      rest += d.toString();
      const parts = rest.split('\n');
      rest = parts.pop();
      for (const p of parts) if (p.trim()) onLine(p.replace(/\r?\x1b\[2K/g, '').trim());
    });
  }
  const code = await new Promise((r) => child.once('exit', r));
  phases.exitMs = at();
  phases.chunks = chunks;
  await rm(out, { recursive: true, force: true });
  if (code !== 0) throw new Error(`vgg-local exited with ${code}:\n${lines.join('\n')}`);
  return { phases, lines };
}

/** The phases of one run, as durations in ms. */
export function phaseDurations(p) {
  const loadStartMs = p.modelLoadedMs - p.modelLoadMs;
  return {
    toRedisReadyMs: p.redisReadyMs,
    toWorkerReadyMs: p.workerReadyMs,
    toModelLoadStartMs: loadStartMs,
    modelLoadMs: p.modelLoadMs,
    toFirstChunkMs: p.firstChunkMs,
    modelLoadedToLastChunkMs: p.lastChunkMs - p.modelLoadedMs,
    lastChunkToFinalizedMs: p.finalizedMs - p.lastChunkMs,
    lastChunkToExitMs: p.exitMs - p.lastChunkMs,
    totalMs: p.exitMs,
    beyondModelLoadMs: p.exitMs - p.modelLoadMs,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values: flags } = parseArgs({
    options: {
      images: { type: 'string', default: '48' },
      // `small` is the bench's small network ([16,M,32,M,64,M], fc 256), where inference is negligible.
      model: { type: 'string', default: 'vgg16' },
      repeat: { type: 'string', default: '1' },
      dir: { type: 'string' },
      'steady-rate': { type: 'string' },
      json: { type: 'boolean', default: false },
      // Another checkout's vgg-local (e.g. main's, for a before/after comparison interleaved with this one).
      'compare-bin': { type: 'string' },
    },
  });
  const n = Number(flags.images);
  const dir = flags.dir ?? path.join(here, '.cache', `images-${n}`);
  if (!flags.dir) await ensureImages(dir, n);
  const bins = { this: defaultBin, ...(flags['compare-bin'] ? { compare: flags['compare-bin'] } : {}) };
  const runs = Object.fromEntries(Object.keys(bins).map((k) => [k, []]));
  for (let i = 0; i < Number(flags.repeat); i++) {
    // Interleaved, so a busy phase of a shared machine hits both.
    for (const [key, bin] of Object.entries(bins)) {
      const r = await measureLocalRun({ dir, model: flags.model, bin });
      runs[key].push(phaseDurations(r.phases));
      if (!flags.json)
        console.error(
          r.lines.filter((l) => !/Warning|node >=22|a\.co|AWS|to continue|security/i.test(l)).join('\n'),
        );
    }
  }
  const summary = Object.fromEntries(
    Object.entries(runs).map(([k, list]) => [
      k,
      Object.fromEntries(Object.keys(list[0]).map((f) => [f, Math.round(median(list.map((r) => r[f])))])),
    ]),
  );
  console.log(
    JSON.stringify({ images: n, model: flags.model, medians: summary, runs }, null, flags.json ? 0 : 2),
  );
}
