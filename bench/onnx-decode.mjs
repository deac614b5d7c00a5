// Decode cost of an ONNX file with vgg-core's decoder: wall time per decode (median of several) and the memory a
// decoded model holds beyond the file bytes. Large embedded initializers should come back as views of the file
// bytes, so a decoded 550 MB model should add kilobytes, not hundreds of megabytes. Then the whole user-file path
// (worker thread: read, sha256, decode, signature check) with the longest event-loop stall it caused here.
//
//   node --expose-gc bench/onnx-decode.mjs <model.onnx> [trials]
import { readFile } from 'node:fs/promises';
import { decodeOnnxModel, readUserOnnxFile } from 'vgg-core';

const [path, trialsArg = '5'] = process.argv.slice(2);
if (path === undefined) {
  console.error('Usage: node --expose-gc bench/onnx-decode.mjs <model.onnx> [trials]');
  process.exit(2);
}
const gc = globalThis.gc ?? (() => undefined);
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const snapshot = () => {
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
};

const bytes = await readFile(path);
const before = snapshot();
const times = [];
let kept = null;
for (let i = 0; i < Number(trialsArg); i++) {
  kept = null;
  gc();
  const started = performance.now();
  kept = decodeOnnxModel(bytes);
  times.push(performance.now() - started);
}
const after = snapshot();
let userFile = null;
/** Longest delay of a 10 ms timer while `work` runs: how long the event loop was kept from running. */
async function maxStallMs(work) {
  let last = performance.now();
  let max = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    max = Math.max(max, now - last - 10);
    last = now;
  }, 10);
  try {
    return { result: await work(), maxStallMs: Math.round(max) };
  } finally {
    clearInterval(timer);
  }
}
if (typeof readUserOnnxFile === 'function') {
  const started = performance.now();
  const { result, maxStallMs: stall } = await maxStallMs(() =>
    readUserOnnxFile(path).then(
      (r) => ({ numClasses: r.signature.numClasses }),
      (e) => ({ error: e.code }),
    ),
  );
  const ms = Math.round(performance.now() - started);
  // The same wait with nothing to do: what the machine's load alone does to the timer.
  const idle = await maxStallMs(() => new Promise((resolve) => setTimeout(resolve, ms)));
  userFile = { ms, maxEventLoopStallMs: stall, idleMaxStallMs: idle.maxStallMs, ...result };
}
times.sort((a, b) => a - b);
const graph = kept.graph;
console.log(
  JSON.stringify({
    file: path,
    fileBytes: bytes.length,
    nodes: graph.node?.length ?? graph.nodes?.length,
    initializers: graph.initializer?.length ?? graph.initializers?.length,
    decodeMsMedian: Number(times[Math.floor(times.length / 2)].toFixed(2)),
    decodeMsAll: times.map((t) => Number(t.toFixed(2))),
    heldByOneDecodedModel: {
      heap: mib(after.heap - before.heap),
      external: mib(after.external - before.external),
      arrayBuffers: mib(after.arrayBuffers - before.arrayBuffers),
      rss: mib(after.rss - before.rss),
    },
    readUserOnnxFile: userFile,
  }),
);
