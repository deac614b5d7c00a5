import { readFileSync } from 'node:fs';
import { VggError } from './errors.js';
import { resolveVggConfig, type VggConfig, type VggConfigOverrides } from './model-config.js';
import { inspectOnnxGraph } from './onnx-inspect.js';
import { decodeOnnxModel } from './onnx-proto.js';
import { adaptivePoolBins, convName, vggLayout } from './vgg-layout.js';

/** Receptive field of a layer's outputs in input pixels; 'global' once every output sees the whole image. */
export type ReceptiveField = number | 'global';

export interface LayerRow {
  /** Literature name: conv1_1, bn1_1, relu1_1, pool1, avgpool, fc6, ...; the node name for ONNX files. */
  name: string;
  /** torchvision module path ("features.0", "classifier.6"), or null where there is none. */
  module: string | null;
  /** Layer type, e.g. "Conv2d 3x3", "MaxPool2d 2x2", "Linear". */
  type: string;
  /** Output shape of one image: [C, H, W] or [D]; null where unknown. */
  outputShape: number[] | null;
  /** Trainable parameters (BatchNorm running statistics are buffers and not counted). */
  params: number;
  /** Multiply-accumulates per image (conv and linear only). */
  macs: number;
  /** Receptive field side in input pixels; null where unknown. */
  receptiveField: ReceptiveField | null;
  /** Input pixels between horizontally adjacent outputs (the cumulative stride); null where unknown. */
  jump: number | null;
}

export interface LayerTable {
  /** Variant name, or "onnx:<basename>" for an ONNX file. */
  model: string;
  /** Input shape of one image, [3, H, W]. */
  input: number[];
  rows: LayerRow[];
  /** Total trainable parameters. */
  params: number;
  /** Total multiply-accumulates per image. */
  macs: number;
  notes: string[];
}

const NOTES = [
  'RF: receptive field side in input pixels; jump: input pixels between adjacent outputs.',
  'Stacked 3x3 convs: two see 5x5 with 2*9C^2 = 18C^2 weights instead of 25C^2 for one 5x5 conv; ' +
    'three see 7x7 with 27C^2 instead of 49C^2, with a ReLU between each.',
  'MACs are per image and count conv and linear multiply-accumulates only.',
  'Params exclude BatchNorm running statistics, which are buffers (as torchvision counts).',
];

/**
 * Describes a model layer by layer: a variant name or layer list (with overrides), a resolved config, or the
 * path of an .onnx file (whose graph is read and shape-inferred; H and W default to overrides.inputSize or 224
 * when the file leaves them symbolic).
 */
export function inspectModel(
  specOrConfig: string | VggConfig,
  overrides: VggConfigOverrides = {},
): LayerTable {
  if (typeof specOrConfig === 'string' && /\.onnx$/i.test(specOrConfig.trim())) {
    const path = specOrConfig.trim();
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (cause) {
      throw new VggError('VGG_MODEL_FORMAT', `Cannot read ONNX file ${path}: ${(cause as Error).message}`, {
        cause,
      });
    }
    const name = path.split(/[\\/]/).pop() ?? path;
    return inspectOnnxGraph(decodeOnnxModel(bytes), `onnx:${name}`, NOTES, overrides.inputSize);
  }
  const config = typeof specOrConfig === 'string' ? resolveVggConfig(specOrConfig, overrides) : specOrConfig;
  return inspectConfig(config);
}

function inspectConfig(config: VggConfig): LayerTable {
  const layout = vggLayout(config);
  const rows: LayerRow[] = [];
  let rf = 1;
  let jump = 1;
  for (const stage of layout.features) {
    if (stage.kind === 'pool') {
      rf += jump;
      jump *= 2;
      rows.push({
        name: `pool${stage.block}`,
        module: `features.${stage.index}`,
        type: 'MaxPool2d 2x2/2',
        outputShape: [stage.channels, stage.outSize, stage.outSize],
        params: 0,
        macs: 0,
        receptiveField: rf,
        jump,
      });
      continue;
    }
    const shape = [stage.outChannels, stage.size, stage.size];
    const suffix = `${stage.block}_${stage.layer}`;
    rf += 2 * jump;
    rows.push({
      name: convName(stage),
      module: `features.${stage.convIndex}`,
      type: 'Conv2d 3x3',
      outputShape: shape,
      params: stage.outChannels * stage.inChannels * 9 + stage.outChannels,
      macs: stage.outChannels * stage.size * stage.size * stage.inChannels * 9,
      receptiveField: rf,
      jump,
    });
    if (stage.bnIndex !== null) {
      rows.push({
        name: `bn${suffix}`,
        module: `features.${stage.bnIndex}`,
        type: 'BatchNorm2d',
        outputShape: shape,
        params: 2 * stage.outChannels,
        macs: 0,
        receptiveField: rf,
        jump,
      });
    }
    rows.push({
      name: `relu${suffix}`,
      module: `features.${stage.reluIndex}`,
      type: 'ReLU',
      outputShape: shape,
      params: 0,
      macs: 0,
      receptiveField: rf,
      jump,
    });
  }
  const size = layout.featureSize;
  const pool = config.poolSize;
  const bins = adaptivePoolBins(size, pool);
  const kernel = Math.max(...bins.map(([start, end]) => end - start));
  if (size !== pool) {
    rf += (kernel - 1) * jump;
    jump = (jump * size) / pool;
  }
  rows.push({
    name: 'avgpool',
    module: 'avgpool',
    type: `AdaptiveAvgPool2d ${pool}x${pool}${size % pool === 0 ? '' : ` (uneven, max ${kernel}x${kernel})`}`,
    outputShape: [layout.featureChannels, pool, pool],
    params: 0,
    macs: 0,
    receptiveField: rf,
    jump,
  });
  rows.push({
    name: 'flatten',
    module: null,
    type: 'Flatten',
    outputShape: [layout.featureChannels * pool * pool],
    params: 0,
    macs: 0,
    receptiveField: rf,
    jump,
  });
  for (const fc of layout.classifier) {
    rows.push({
      name: fc.name,
      module: `classifier.${fc.index}`,
      type: 'Linear',
      outputShape: [fc.outFeatures],
      params: fc.inFeatures * fc.outFeatures + fc.outFeatures,
      macs: fc.inFeatures * fc.outFeatures,
      receptiveField: 'global',
      jump: null,
    });
    if (!fc.relu) continue;
    const n = fc.name.slice(2);
    for (const [offset, type] of [
      [1, 'ReLU'],
      [2, 'Dropout (identity at inference)'],
    ] as const) {
      rows.push({
        name: `${type === 'ReLU' ? 'relu' : 'drop'}${n}`,
        module: `classifier.${fc.index + offset}`,
        type,
        outputShape: [fc.outFeatures],
        params: 0,
        macs: 0,
        receptiveField: 'global',
        jump: null,
      });
    }
  }
  rows.push({
    name: 'softmax',
    module: null,
    type: 'Softmax',
    outputShape: [config.numClasses],
    params: 0,
    macs: 0,
    receptiveField: 'global',
    jump: null,
  });
  return {
    model: config.name,
    input: [config.inChannels, config.inputSize, config.inputSize],
    rows,
    params: rows.reduce((sum, row) => sum + row.params, 0),
    macs: rows.reduce((sum, row) => sum + row.macs, 0),
    notes: NOTES,
  };
}

/** Renders the table for a terminal, with a totals line and the notes. */
export function formatLayerTable(table: LayerTable): string {
  const header = ['Layer', 'Module', 'Type', 'Output', 'Params', 'MACs', 'RF', 'Jump'];
  const body = table.rows.map((row) => [
    row.name,
    row.module ?? '',
    row.type,
    row.outputShape ? row.outputShape.join('x') : '?',
    row.params === 0 ? '' : groupDigits(row.params),
    row.macs === 0 ? '' : compact(row.macs),
    row.receptiveField === null ? '?' : String(row.receptiveField),
    row.jump === null ? '' : String(Math.round(row.jump * 100) / 100),
  ]);
  const totals = ['Total', '', '', '', groupDigits(table.params), compact(table.macs), '', ''];
  const all = [header, ...body, totals];
  const widths = header.map((_, col) => Math.max(...all.map((line) => line[col]!.length)));
  const numeric = new Set([4, 5, 6, 7]);
  const render = (line: string[]) =>
    line
      .map((cell, col) => (numeric.has(col) ? cell.padStart(widths[col]!) : cell.padEnd(widths[col]!)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [
    `${table.model}: input ${table.input.join('x')}, ${groupDigits(table.params)} params, ` +
      `${(table.macs / 1e9).toFixed(2)} GMACs per image`,
    '',
    render(header),
    rule,
    ...body.map(render),
    rule,
    render(totals),
    '',
    ...table.notes.map((note) => `Note: ${note}`),
  ].join('\n');
}

/** JSON form: integer totals `params` and `macs` at the top level, then the rows. */
export function layerTableToJson(table: LayerTable): {
  model: string;
  input: number[];
  params: number;
  macs: number;
  layers: LayerRow[];
  notes: string[];
} {
  return {
    model: table.model,
    input: table.input,
    params: table.params,
    macs: table.macs,
    layers: table.rows.map((row) => ({ ...row })),
    notes: table.notes,
  };
}

function groupDigits(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function compact(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}
