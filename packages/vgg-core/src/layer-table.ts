// A model described layer by layer (what `vgg-model inspect` prints), and its text and JSON renderings.

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

/** Notes printed under every table. */
export const LAYER_TABLE_NOTES: readonly string[] = [
  'RF: receptive field side in input pixels; jump: input pixels between adjacent outputs.',
  'Stacked 3x3 convs: two see 5x5 with 2*9C^2 = 18C^2 weights instead of 25C^2 for one 5x5 conv; ' +
    'three see 7x7 with 27C^2 instead of 49C^2, with a ReLU between each.',
  'MACs are per image and count conv and linear multiply-accumulates only.',
  'Params exclude BatchNorm running statistics, which are buffers (as torchvision counts).',
];

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
