// A deliberately naive VGG forward pass for tests: direct loops in float64, written from the definitions of the
// layers (torchvision semantics) and not from the ONNX graph builder, so that the two can check each other.

import type { VggConfig } from '../model-config.js';

/** Every tap of one batch, each [batch, dim] row-major, keyed by tap name. */
export type ReferenceOutputs = Record<string, Float64Array>;

interface Activation {
  c: number;
  h: number;
  w: number;
  data: Float64Array;
}

/**
 * Runs `input` ([batch, 3, S, S] row-major, already normalised) through the network given by `config` and a
 * torchvision state_dict. Returns relu{block}_{layer} and pool5 (global means), fc6, fc7, logits and probs.
 */
export function referenceForward(
  config: VggConfig,
  weights: ReadonlyMap<string, Float32Array>,
  input: Float32Array,
  batch: number,
): ReferenceOutputs {
  const size = config.inputSize;
  const perImage = 3 * size * size;
  if (input.length !== batch * perImage)
    throw new Error(`reference: expected ${batch * perImage} input values`);
  const get = (name: string): Float32Array => {
    const t = weights.get(name);
    if (!t) throw new Error(`reference: missing weight ${name}`);
    return t;
  };
  const results: Array<Record<string, Float64Array>> = [];
  for (let n = 0; n < batch; n++) {
    const taps: Record<string, Float64Array> = {};
    let x: Activation = {
      c: 3,
      h: size,
      w: size,
      data: Float64Array.from(input.subarray(n * perImage, (n + 1) * perImage)),
    };
    let module = 0;
    let block = 1;
    let layer = 0;
    for (const spec of config.layers) {
      if (spec === 'M') {
        x = maxPool2x2(x);
        module += 1;
        block += 1;
        layer = 0;
        continue;
      }
      x = conv3x3(x, get(`features.${module}.weight`), get(`features.${module}.bias`), spec);
      module += 1;
      if (config.batchNorm) {
        const p = `features.${module}`;
        batchNorm(x, get(`${p}.weight`), get(`${p}.bias`), get(`${p}.running_mean`), get(`${p}.running_var`));
        module += 1;
      }
      for (let i = 0; i < x.data.length; i++) if (x.data[i]! < 0) x.data[i] = 0;
      module += 1;
      layer += 1;
      taps[`relu${block}_${layer}`] = channelMeans(x);
    }
    taps.pool5 = channelMeans(x);
    const pooled = adaptiveAvgPool(x, config.poolSize);
    const fc6 = linear(pooled.data, get('classifier.0.weight'), get('classifier.0.bias'), true);
    const fc7 = linear(fc6, get('classifier.3.weight'), get('classifier.3.bias'), true);
    const logits = linear(fc7, get('classifier.6.weight'), get('classifier.6.bias'), false);
    let max = -Infinity;
    for (const v of logits) max = Math.max(max, v);
    let sum = 0;
    const probs = logits.map((v) => {
      const e = Math.exp(v - max);
      sum += e;
      return e;
    });
    for (let i = 0; i < probs.length; i++) probs[i]! /= sum;
    Object.assign(taps, { fc6, fc7, logits, probs });
    results.push(taps);
  }
  const out: ReferenceOutputs = {};
  for (const name of Object.keys(results[0] ?? {})) {
    const dim = results[0]![name]!.length;
    const joined = new Float64Array(batch * dim);
    for (const [i, r] of results.entries()) joined.set(r[name]!, i * dim);
    out[name] = joined;
  }
  return out;
}

function conv3x3(x: Activation, weight: Float32Array, bias: Float32Array, outC: number): Activation {
  const { c: inC, h, w } = x;
  const out = new Float64Array(outC * h * w);
  for (let o = 0; o < outC; o++) {
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        let acc = bias[o]!;
        for (let i = 0; i < inC; i++) {
          for (let ky = 0; ky < 3; ky++) {
            const sy = y + ky - 1;
            if (sy < 0 || sy >= h) continue;
            for (let kx = 0; kx < 3; kx++) {
              const sx = xx + kx - 1;
              if (sx < 0 || sx >= w) continue;
              acc += weight[((o * inC + i) * 3 + ky) * 3 + kx]! * x.data[(i * h + sy) * w + sx]!;
            }
          }
        }
        out[(o * h + y) * w + xx] = acc;
      }
    }
  }
  return { c: outC, h, w, data: out };
}

function batchNorm(
  x: Activation,
  gamma: Float32Array,
  beta: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
) {
  const plane = x.h * x.w;
  for (let c = 0; c < x.c; c++) {
    const scale = gamma[c]! / Math.sqrt(variance[c]! + 1e-5);
    for (let i = 0; i < plane; i++) {
      const k = c * plane + i;
      x.data[k] = (x.data[k]! - mean[c]!) * scale + beta[c]!;
    }
  }
}

function maxPool2x2(x: Activation): Activation {
  const h = Math.floor(x.h / 2);
  const w = Math.floor(x.w / 2);
  const out = new Float64Array(x.c * h * w);
  for (let c = 0; c < x.c; c++) {
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        let m = -Infinity;
        for (let dy = 0; dy < 2; dy++) {
          for (let dx = 0; dx < 2; dx++) m = Math.max(m, x.data[(c * x.h + 2 * y + dy) * x.w + 2 * xx + dx]!);
        }
        out[(c * h + y) * w + xx] = m;
      }
    }
  }
  return { c: x.c, h, w, data: out };
}

/** torch.nn.AdaptiveAvgPool2d: cell i covers [floor(i*H/P), ceil((i+1)*H/P)). */
function adaptiveAvgPool(x: Activation, p: number): Activation {
  const out = new Float64Array(x.c * p * p);
  for (let c = 0; c < x.c; c++) {
    for (let i = 0; i < p; i++) {
      const h0 = Math.floor((i * x.h) / p);
      const h1 = Math.ceil(((i + 1) * x.h) / p);
      for (let j = 0; j < p; j++) {
        const w0 = Math.floor((j * x.w) / p);
        const w1 = Math.ceil(((j + 1) * x.w) / p);
        let sum = 0;
        for (let y = h0; y < h1; y++)
          for (let xx = w0; xx < w1; xx++) sum += x.data[(c * x.h + y) * x.w + xx]!;
        out[(c * p + i) * p + j] = sum / ((h1 - h0) * (w1 - w0));
      }
    }
  }
  return { c: x.c, h: p, w: p, data: out };
}

function channelMeans(x: Activation): Float64Array {
  const plane = x.h * x.w;
  const out = new Float64Array(x.c);
  for (let c = 0; c < x.c; c++) {
    let sum = 0;
    for (let i = 0; i < plane; i++) sum += x.data[c * plane + i]!;
    out[c] = sum / plane;
  }
  return out;
}

function linear(x: Float64Array, weight: Float32Array, bias: Float32Array, relu: boolean): Float64Array {
  const outF = bias.length;
  const inF = x.length;
  if (weight.length !== outF * inF)
    throw new Error(`reference: linear weight has ${weight.length} values, expected ${outF * inF}`);
  const out = new Float64Array(outF);
  for (let o = 0; o < outF; o++) {
    let acc = bias[o]!;
    for (let i = 0; i < inF; i++) acc += weight[o * inF + i]! * x[i]!;
    out[o] = relu && acc < 0 ? 0 : acc;
  }
  return out;
}
