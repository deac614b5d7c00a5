// What the inference engine and its worker thread say to each other, and the public request/result shapes.
import type { VggErrorCode } from './errors.js';
import type { ExecutionProvider } from './execution-provider.js';
import type { ResolvedPreprocessOptions } from './preprocess-options.js';

export type EmbeddingDtype = 'float32' | 'float16';

export interface InferenceRequest {
  /** How many of the most probable classes to return per image; 0 skips classification. Clamped to numClasses. */
  topK: number;
  /** Embedding taps to return (names from the model's `outputs.taps`, e.g. 'fc7', 'pool5'). */
  taps: readonly string[];
  /** Whether each embedding is scaled to unit L2 norm (before any float16 conversion). */
  l2Normalize: boolean;
  /** Element type of the returned embeddings; float16 values are IEEE binary16 bits in a Uint16Array. */
  dtype: EmbeddingDtype;
}

export interface InferenceEmbedding {
  dim: number;
  dtype: EmbeddingDtype;
  /** count × dim values, row-major. */
  data: Float32Array | Uint16Array;
}

export interface InferenceResult {
  count: number;
  /** Per image, the k most probable classes, most probable first (ties: lower class id first). */
  topK: { k: number; classIds: Int32Array; probs: Float32Array };
  embeddings: Record<string, InferenceEmbedding>;
  /** Wall time of onnxruntime's run() for the batch, in ms. */
  inferenceMs: number;
}

/** Scores of a batch of pairs from a graph with a pair head (prepareModel's `pair`). */
export interface PairInferenceResult {
  count: number;
  /** Column names: `perceptual_distance`, `lpips_<layer>`…, `feature_reconstruction_loss`. */
  columns: string[];
  /** count × columns.length values, row-major (one row per pair). */
  values: Float32Array;
  /** Wall time of onnxruntime's run() calls, in ms. */
  inferenceMs: number;
}

export interface WorkerInit {
  onnxPath: string;
  inputName: string;
  numClasses: number;
  /** ONNX output names; null where the graph does not declare them. */
  logits: string | null;
  probs: string | null;
  taps: Record<string, { name: string; dim: number }>;
  /** The pair head's output and columns; null for a graph without one. */
  pair: { name: string; columns: string[] } | null;
  /** Batch size to feed onnxruntime (engine option or a user graph's fixed axis); runs are split and padded to it. */
  fixedBatchSize: number | null;
  candidates: ExecutionProvider[];
  intraOpNumThreads: number;
  interOpNumThreads: number;
  preprocess: ResolvedPreprocessOptions;
}

export interface SerializedError {
  code: VggErrorCode;
  message: string;
  cause: string | null;
}

export type ToWorker =
  | { type: 'run'; id: number; images: Uint8Array[]; request: InferenceRequest }
  /** Pairs: `images` holds the a crops, then the b crops. */
  | {
      type: 'pairs';
      id: number;
      images: Uint8Array[];
      /** Width and height of whole images (geometry 'native'); null for crops. */
      size: { width: number; height: number } | null;
    }
  | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; provider: ExecutionProvider; warnings: string[] }
  | { type: 'init-failed'; error: SerializedError }
  | { type: 'result'; id: number; result: InferenceResult }
  | { type: 'pair-result'; id: number; result: PairInferenceResult }
  | { type: 'failed'; id: number; error: SerializedError }
  | { type: 'closed' };
