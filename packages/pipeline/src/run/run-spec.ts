import { invalidOption } from '../errors.js';

/**
 * What a run is: stored once in Redis by the producer and read by every worker, so chunk jobs carry only URIs.
 * Everything here is plain JSON.
 */

/** Model choice as the user gave it; URIs may be local paths, s3:// or http(s)://. */
export interface RunModelSpec {
  /** Variant ("vgg16", "vgg16_bn") or cfg list ("[64,'M',128,'M']"). */
  model: string;
  /** torchvision state_dict as safetensors. */
  weights?: string;
  /** A VGG ONNX file. Exclusive with weights. */
  onnx?: string;
  /** Seed of the deterministic initialisation used when neither weights nor onnx is given. */
  seed: number;
  classifierWidth?: number;
  numClasses?: number;
  inputSize?: number;
  batchNorm?: boolean;
  poolSize?: number;
}

/** Preprocessing, as vgg-core's PreprocessOptions (JSON subset). */
export interface RunPreprocessSpec {
  resizeSize?: number;
  cropSize?: number;
  mode?: 'torchvision' | 'caffe';
  maxPixels?: number;
}

export interface RunOutputSpec {
  /** `s3://bucket/prefix` or an absolute local directory; the run writes under `<out>/<runId>/`. */
  out: string;
  topK: number;
  taps: string[];
  l2Normalize: boolean;
  dtype: 'float32' | 'float16';
  /** Also write clip-retrieval style `.npy` embedding shards. */
  npy: boolean;
}

export interface RunSpec {
  runId: string;
  createdAt: string;
  model: RunModelSpec;
  preprocess: RunPreprocessSpec;
  output: RunOutputSpec;
  chunkSize: number;
}

export type RunState = 'enqueuing' | 'running' | 'finalizing' | 'finalized' | 'cancelled';

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Run ids become BullMQ job ids and S3 keys: no ':' and nothing that needs escaping. */
export function validateRunId(runId: string): string {
  if (!RUN_ID.test(runId)) {
    throw invalidOption(
      'run',
      "run id of letters, digits, '.', '_' or '-' (at most 128, starting with a letter or digit)",
      runId,
    );
  }
  return runId;
}

/** A readable, sortable default run id: `run-20261128-031500-ab12`. */
export function generateRunId(now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const suffix = Math.floor(Math.random() * 0x10000)
    .toString(16)
    .padStart(4, '0');
  return `run-${stamp}-${suffix}`;
}
