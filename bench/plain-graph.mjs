// The ceiling of every inference measurement: torchvision's VGG as torch.onnx.export gives it (Conv, Relu, MaxPool,
// Flatten, Gemm; logits only, no taps), written from the configuration independently of vgg-core's graph builder,
// its weights pointing into the same safetensors file.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  AttributeProto_AttributeType as A,
  encodeOnnxModel,
  readSafetensorsHeader,
  TensorProto_DataType as T,
  valueInfo,
} from 'vgg-core';

/** Session options shared by every ceiling and by the engine (sequential, spinning off, full optimisation). */
export function ceilingSessionOptions(threads, device = 'cpu') {
  return {
    executionProviders: device.startsWith('cuda')
      ? [{ name: 'cuda', deviceId: Number(device.split(':')[1] ?? 0) }]
      : device === 'auto'
        ? [{ name: 'cuda', deviceId: 0 }, 'cpu']
        : ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
}

/** torchvision's VGG as a plain ONNX graph: features, adaptive pool (when not the identity), classifier, logits. */
export async function writePlainGraph(config, weightsPath) {
  const header = await readSafetensorsHeader(weightsPath);
  const tensor = (name, dims) => {
    const info = header.tensors.get(name);
    if (!info) throw new Error(`${weightsPath} has no tensor ${name}`);
    return {
      name,
      dims: dims.map(BigInt),
      dataType: T.FLOAT,
      dataLocation: 1,
      externalData: [
        { key: 'location', value: path.basename(weightsPath) },
        { key: 'offset', value: String(info.byteOffset) },
        { key: 'length', value: String(info.byteLength) },
      ],
    };
  };
  const ints = (name, v) => ({ name, type: A.INTS, ints: v.map(BigInt) });
  const int = (name, v) => ({ name, type: A.INT, i: BigInt(v) });
  const node = [];
  const initializer = [];
  let x = 'input';
  let channels = 3;
  let size = config.inputSize;
  let index = 0;
  for (const layer of config.layers) {
    if (layer === 'M') {
      node.push({
        opType: 'MaxPool',
        input: [x],
        output: [`f${index}`],
        attribute: [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])],
      });
      x = `f${index}`;
      size = Math.floor(size / 2);
      index += 1;
      continue;
    }
    const w = `features.${index}.weight`;
    const b = `features.${index}.bias`;
    initializer.push(tensor(w, [layer, channels, 3, 3]), tensor(b, [layer]));
    node.push({
      opType: 'Conv',
      input: [x, w, b],
      output: [`f${index}`],
      attribute: [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])],
    });
    x = `f${index}`;
    index += 1;
    if (config.batchNorm) {
      const names = ['weight', 'bias', 'running_mean', 'running_var'].map((p) => `features.${index}.${p}`);
      for (const name of names) initializer.push(tensor(name, [layer]));
      node.push({ opType: 'BatchNormalization', input: [x, ...names], output: [`f${index}`] });
      x = `f${index}`;
      index += 1;
    }
    node.push({ opType: 'Relu', input: [x], output: [`f${index}`] });
    x = `f${index}`;
    index += 1;
    channels = layer;
  }
  if (size !== config.poolSize) {
    if (size % config.poolSize !== 0)
      throw new Error(`plain graph: uneven adaptive pooling ${size} -> ${config.poolSize}`);
    const k = size / config.poolSize;
    node.push({
      opType: 'AveragePool',
      input: [x],
      output: ['avgpool'],
      attribute: [ints('kernel_shape', [k, k]), ints('strides', [k, k])],
    });
    x = 'avgpool';
  }
  node.push({ opType: 'Flatten', input: [x], output: ['flatten'], attribute: [int('axis', 1)] });
  x = 'flatten';
  const widths = [
    channels * config.poolSize ** 2,
    config.classifierWidth,
    config.classifierWidth,
    config.numClasses,
  ];
  for (const [i, at] of [0, 3, 6].entries()) {
    const w = `classifier.${at}.weight`;
    const b = `classifier.${at}.bias`;
    initializer.push(tensor(w, [widths[i + 1], widths[i]]), tensor(b, [widths[i + 1]]));
    const out = at === 6 ? 'logits' : `c${at}`;
    node.push({ opType: 'Gemm', input: [x, w, b], output: [out], attribute: [int('transB', 1)] });
    x = out;
    if (at !== 6) {
      node.push({ opType: 'Relu', input: [x], output: [`c${at + 1}`] });
      x = `c${at + 1}`;
    }
  }
  const file = path.join(
    path.dirname(weightsPath),
    `plain-${config.name.replace(/[^\w]+/g, '_')}-${config.inputSize}.onnx`,
  );
  await writeFile(
    file,
    encodeOnnxModel({
      irVersion: 8n,
      opsetImport: [{ domain: '', version: 17n }],
      producerName: 'bench/predict-vs-plain',
      graph: {
        name: 'plain',
        node: node.map((n, i) => ({ name: `n${i}`, ...n })),
        initializer,
        input: [valueInfo('input', T.FLOAT, ['batch', 3, config.inputSize, config.inputSize])],
        output: [valueInfo('logits', T.FLOAT, ['batch', config.numClasses])],
      },
    }),
  );
  return file;
}
