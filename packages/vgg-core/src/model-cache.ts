// The files of a prepared model inside the cache directory: weights converted to the graph's element type, and one
// graph per (configuration, weights layout, precision, output set) that points into them.
import { writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { exists, sha256Text, writeAtomically } from './file-cache.js';
import { float32ToFloat16 } from './half-float.js';
import type { VggConfig } from './model-config.js';
import { buildVggOnnx, GRAPH_FORMAT_VERSION, type GraphPrecision } from './onnx/onnx-graph.js';
import {
  readSafetensors,
  readSafetensorsHeader,
  type SafetensorsDtype,
  type SafetensorsEntry,
  tensorToFloat32,
  writeSafetensors,
} from './safetensors.js';
import { stateDictSpec } from './state-dict.js';
import type { PairHeadOptions } from './features/pair-head.js';
import type { VggTap } from './taps.js';

/** Writes the state_dict of `source` with every float tensor as `dtype` (F32 or F16); counters stay as they are. */
export async function convertWeights(
  source: string,
  config: VggConfig,
  dtype: Extract<SafetensorsDtype, 'F32' | 'F16'>,
  dest: string,
): Promise<void> {
  const tensors = await readSafetensors(source);
  const entries: SafetensorsEntry[] = [];
  for (const entry of stateDictSpec(config)) {
    const tensor = tensors.get(entry.name);
    if (!tensor) continue;
    if (entry.role === 'bn.num_batches_tracked') {
      entries.push({ name: entry.name, dtype: tensor.dtype, shape: tensor.shape, data: tensor.data });
      continue;
    }
    const data = () => {
      const f32 = tensorToFloat32(tensor);
      return [dtype === 'F16' ? float32ToFloat16(f32) : f32];
    };
    entries.push({ name: entry.name, dtype, shape: entry.shape, data });
  }
  await writeSafetensors(dest, entries, { metadata: { format: 'pt', convertedFrom: basename(source) } });
}

/**
 * The graph of `config` over the float32 weights file `weightsPath` (in `dir`), declaring `taps`, in `precision`:
 * for float16 a half-float copy of the weights is written beside it once. Returns the graph and the weights file it
 * reads; both are reused when they exist.
 */
export async function ensureGraph(
  dir: string,
  config: VggConfig,
  taps: readonly VggTap[],
  precision: GraphPrecision,
  weightsPath: string,
  pair: { head: PairHeadOptions; weightsSha256: string | null } | null = null,
): Promise<{ onnxPath: string; weightsPath: string }> {
  let graphWeights = weightsPath;
  if (precision === 'float16') {
    graphWeights = join(dir, 'weights-f16.safetensors');
    if (!(await exists(graphWeights))) {
      await writeAtomically(graphWeights, (tmp) => convertWeights(weightsPath, config, 'F16', tmp));
    }
  }
  const header = await readSafetensorsHeader(graphWeights);
  const location = basename(graphWeights);
  const layout = [...header.tensors.values()].map((t) => [t.name, t.byteOffset, t.byteLength]);
  const outputs = taps.map((tap) => tap.name);
  const key = sha256Text(
    JSON.stringify({
      v: GRAPH_FORMAT_VERSION,
      config,
      location,
      layout,
      outputs,
      precision,
      ...(pair && {
        pair: { layers: pair.head.layers, content: pair.head.contentLayer, lin: pair.weightsSha256 },
      }),
    }),
  ).slice(0, 24);
  const onnxPath = join(dir, `model-${key}.onnx`);
  if (!(await exists(onnxPath))) {
    const weights = { kind: 'external', location, tensors: header.tensors } as const;
    const bytes = buildVggOnnx(config, { weights, outputs, precision, ...(pair && { pair: pair.head }) });
    await writeAtomically(onnxPath, (tmp) => writeFile(tmp, bytes));
  }
  return { onnxPath, weightsPath: graphWeights };
}
