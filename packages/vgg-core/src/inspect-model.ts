import { LAYER_TABLE_NOTES, type LayerRow, type LayerTable } from './layer-table.js';
import { resolveVggConfig, type VggConfig, type VggConfigOverrides } from './model-config.js';
import { inspectOnnxFile } from './onnx/onnx-file.js';
import { adaptivePoolBins, convName, vggLayout } from './vgg-layout.js';

/**
 * Describes a model layer by layer: a variant name or layer list (with overrides), a resolved config, or the
 * path of an .onnx file (whose graph is read and shape-inferred; H and W default to overrides.inputSize or 224
 * when the file leaves them symbolic).
 */
export async function inspectModel(
  specOrConfig: string | VggConfig,
  overrides: VggConfigOverrides = {},
): Promise<LayerTable> {
  if (typeof specOrConfig === 'string' && /\.onnx$/i.test(specOrConfig.trim())) {
    return inspectOnnxFile(specOrConfig.trim(), overrides.inputSize);
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
    notes: [...LAYER_TABLE_NOTES],
  };
}
