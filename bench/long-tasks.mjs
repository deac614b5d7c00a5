// What keeps an event loop busy: reads a .cpuprofile (Chrome/V8 format, e.g. from BENCH_CPU_PROFILE) and prints
// the stretches of main-thread work longer than --min-ms, each with the functions that took most of it, plus the
// share of all busy time by function. A stretch is a run of consecutive samples that are not "(idle)".
//
//   node bench/long-tasks.mjs <file.cpuprofile> [--min-ms 10] [--top 8]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: { 'min-ms': { type: 'string', default: '10' }, top: { type: 'string', default: '8' } },
});
const profile = JSON.parse(readFileSync(positionals[0], 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const name = (id) => {
  const f = nodes.get(id).callFrame;
  const file = f.url ? f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/packages\//, '') : '';
  return `${f.functionName || '(anonymous)'} ${file}${file ? `:${f.lineNumber + 1}` : ''}`;
};
/** The innermost frame that is ours or a library's, not a Node internal, for attribution. */
const frameOf = (id) => {
  for (let at = id; at !== undefined; at = parent.get(at)) {
    const url = nodes.get(at).callFrame.url;
    if (url && !url.startsWith('node:')) return name(at);
  }
  return name(id);
};
const minMs = Number(flags['min-ms']);
const top = Number(flags.top);
const stretches = [];
let current = null;
const total = new Map();
let busyMs = 0;
let t = profile.startTime;
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i];
  const id = profile.samples[i];
  const n = nodes.get(id).callFrame.functionName;
  const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
  if (n === '(idle)' || n === '(program)') {
    if (current && current.ms >= minMs) stretches.push(current);
    current = null;
    continue;
  }
  current ??= { startMs: (t - profile.startTime) / 1000, ms: 0, by: new Map() };
  current.ms += dt;
  busyMs += dt;
  const key = n === '(garbage collector)' ? '(garbage collector)' : frameOf(id);
  current.by.set(key, (current.by.get(key) ?? 0) + dt);
  total.set(key, (total.get(key) ?? 0) + dt);
}
if (current && current.ms >= minMs) stretches.push(current);
const span = (profile.endTime - profile.startTime) / 1000;
console.log(
  `${(span / 1000).toFixed(1)} s profiled, main thread busy ${((100 * busyMs) / span).toFixed(1)} %`,
);
console.log(`${stretches.length} stretches of ${minMs} ms or more:`);
for (const s of stretches.sort((a, b) => b.ms - a.ms).slice(0, 15)) {
  const parts = [...s.by].sort((a, b) => b[1] - a[1]).slice(0, 4);
  console.log(
    `  ${s.ms.toFixed(1)} ms at ${(s.startMs / 1000).toFixed(2)} s: ${parts.map(([k, v]) => `${k} ${v.toFixed(1)}`).join('; ')}`,
  );
}
console.log('busy time by function:');
for (const [k, v] of [...total].sort((a, b) => b[1] - a[1]).slice(0, top))
  console.log(`  ${((100 * v) / busyMs).toFixed(1).padStart(5)} %  ${k}`);
