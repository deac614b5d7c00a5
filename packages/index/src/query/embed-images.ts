import {
  InferenceEngine,
  type ModelOptions,
  modelOutputsFor,
  type PreprocessOptions,
  predictFiles,
  prepareModel,
} from 'vgg-core';
import { isRemoteUri, localPathOf, modelOptionsForRun } from 'vgg-pipeline';
import { IndexError } from '../errors.js';
import type { IndexManifest } from '../format/index-manifest.js';

/** Options of {@link embedImages}. */
export interface EmbedImagesOptions {
  /**
   * The run's model as vgg-core options (from `MODEL_FLAGS` via `modelOptionsOf`). It must be the model the run
   * used: its identity (variant and weights sha256) is checked against the index's record of the run. Default: the
   * model options the run's manifest recorded (its weights or ONNX file must be a local file).
   */
  model?: ModelOptions;
  /** onnxruntime threads. Default: vgg-core's. */
  threads?: number;
}

/**
 * Embeds local image files as the run embedded its inputs: the same model (checked by weights sha256) and the
 * run's own preprocessing, read from its manifest. Returns one row-major vector per file for the index's tap.
 * An image that cannot be decoded is an error naming its reason.
 */
export async function embedImages(
  manifest: IndexManifest,
  files: readonly string[],
  options: EmbedImagesOptions,
): Promise<Float32Array> {
  const tap = manifest.tap.name;
  const prepared = await prepareModel({
    ...(options.model ?? recordedModel(manifest)),
    outputs: modelOutputsFor({ topK: 0, taps: [tap] }),
  });
  const used = manifest.run.model;
  if (prepared.identity.weightsSha256 !== used.weightsSha256 || prepared.identity.variant !== used.variant) {
    throw new IndexError(
      'INDEX_QUERY_INVALID',
      `The model given (${describe(prepared.identity)}) is not the one run ${manifest.run.runId} used (${describe(used)}); ` +
        'pass the run’s model flags (--model, --weights or --onnx, --seed, and any of --classifier-width, --input-size, --pool-size, --batch-norm it set)',
    );
  }
  const engine = await InferenceEngine.create({
    model: prepared,
    // The manifest records vgg-core's own resolved preprocessing; InferenceEngine validates it again.
    preprocess: manifest.run.preprocessing as unknown as PreprocessOptions,
    ...(options.threads !== undefined ? { intraOpNumThreads: options.threads } : {}),
  });
  try {
    const dim = manifest.tap.dim;
    const out = new Float32Array(files.length * dim);
    let i = 0;
    for await (const prediction of predictFiles(engine, files, { topK: 0, taps: [tap] })) {
      if (!prediction.ok) {
        throw new IndexError(
          'INDEX_QUERY_INVALID',
          `Cannot embed ${prediction.file}: ${prediction.error} (${prediction.message})`,
          { uri: prediction.file },
        );
      }
      out.set(prediction.embeddings[tap] as number[], i * dim);
      i++;
    }
    return out;
  } finally {
    await engine.close();
  }
}

/** The run's own model options, from the model spec its manifest recorded. */
function recordedModel(manifest: IndexManifest): ModelOptions {
  const spec = manifest.run.spec;
  if (spec === undefined) {
    throw new IndexError(
      'INDEX_QUERY_INVALID',
      `Run ${manifest.run.runId} recorded no model options in its manifest (it finished before manifests did); ` +
        'pass the run’s model flags (--model, --weights or --onnx, --seed, and any of --classifier-width, --input-size, --pool-size, --batch-norm it set)',
    );
  }
  const files: { weightsPath?: string; onnxPath?: string } = {};
  for (const [key, uri] of [
    ['weightsPath', spec.model.weights],
    ['onnxPath', spec.model.onnx],
  ] as const) {
    if (uri === undefined) continue;
    if (isRemoteUri(uri)) {
      throw new IndexError(
        'INDEX_QUERY_INVALID',
        `Run ${manifest.run.runId} loaded its model from ${uri}, which query --image does not download; ` +
          `pass ${key === 'onnxPath' ? '--onnx' : '--weights'} with a local copy, and the run’s other model flags`,
      );
    }
    files[key] = localPathOf(uri);
  }
  return modelOptionsForRun(spec.model, files);
}

function describe(identity: { variant: string; weightsSha256: string; untrained: boolean }): string {
  return `${identity.variant}, ${identity.untrained ? 'seeded ' : ''}weights sha256 ${identity.weightsSha256.slice(0, 12)}…`;
}
