// Loads every native addon the project uses and runs a little of each, on whatever Node.js runs this script, so a
// Node.js release that cannot load the installed binaries fails here, by name, before the test suite starts.
// node .ci/check-native.mjs [expected version]
import { createRequire } from 'node:module';

const expected = process.argv[2];
if (expected && process.version !== `v${expected}`) {
  console.error(`check-native: running on ${process.version}, expected v${expected}`);
  process.exit(1);
}
const require = createRequire(new URL('../packages/vgg-core/package.json', import.meta.url));
const requireRoot = createRequire(new URL('../package.json', import.meta.url));

/** A one-node ONNX model, y = Neg(x) over float[2], encoded by hand (protobuf) so the check needs no file. */
function negModel() {
  const varint = (n) => {
    const out = [];
    for (; n > 127; n >>>= 7) out.push((n & 127) | 128);
    return [...out, n];
  };
  const field = (number, bytes) => [...varint((number << 3) | 2), ...varint(bytes.length), ...bytes];
  const int = (number, n) => [...varint(number << 3), ...varint(n)];
  const str = (number, text) => field(number, [...Buffer.from(text)]);
  const float2 = field(2, field(1, [...int(1, 1), ...field(2, field(1, int(1, 2)))]));
  const graph = [
    ...field(1, [...str(1, 'x'), ...str(2, 'y'), ...str(4, 'Neg')]),
    ...str(2, 'check'),
    ...field(11, [...str(1, 'x'), ...float2]),
    ...field(12, [...str(1, 'y'), ...float2]),
  ];
  return Uint8Array.from([...int(1, 8), ...field(8, int(2, 13)), ...field(7, graph)]);
}

const checks = {
  'onnxruntime-node': async () => {
    const ort = require('onnxruntime-node');
    const session = await ort.InferenceSession.create(negModel());
    const { y } = await session.run({ x: new ort.Tensor('float32', Float32Array.from([1.5, -2]), [2]) });
    if (y.data[0] !== -1.5 || y.data[1] !== 2) throw new Error(`Neg([1.5, -2]) gave [${y.data}]`);
    await session.release();
    return `ran an ONNX graph on the CPU: Neg([1.5, -2]) = [${y.data}]`;
  },
  sharp: async () => {
    const sharp = require('sharp');
    const { info } = await sharp({ create: { width: 4, height: 3, channels: 3, background: '#08f' } })
      .png()
      .toBuffer({ resolveWithObject: true });
    return `libvips ${sharp.versions.vips}, encoded ${info.width}x${info.height} png`;
  },
  '@duckdb/node-api': async () => {
    const { DuckDBInstance } = await import(requireRoot.resolve('@duckdb/node-api'));
    const db = await DuckDBInstance.create(':memory:');
    const rows = (await (await db.connect()).runAndReadAll('select 6 * 7 as x')).getRows();
    return `select 6 * 7 = ${rows[0][0]}`;
  },
  'msgpackr-extract': async () => {
    const msgpackr = requireRoot(requireRoot.resolve('msgpackr', { paths: [requireRoot.resolve('bullmq')] }));
    if (!msgpackr.isNativeAccelerationEnabled) throw new Error('msgpackr fell back to JavaScript');
    return 'native string extraction enabled';
  },
};
let failed = false;
for (const [name, check] of Object.entries(checks)) {
  try {
    console.log(`check-native ${process.version}: ${name}: ${await check()}`);
  } catch (error) {
    failed = true;
    console.error(`check-native ${process.version}: ${name} FAILED: ${error.message}`);
  }
}
process.exit(failed ? 1 : 0);
