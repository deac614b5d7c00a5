import type { InferenceRequest, ModelFlagValues, PreprocessOptions } from 'vgg-core';
import { invalidOption } from '../errors.js';
import type { ListInputOptions } from '../inputs/source-entry.js';

/**
 * What a run is: built once from its {@link RunOptions} at submit, stored in Redis, and read by every worker, so
 * chunk jobs carry only URIs. Everything here is plain JSON, and each section is a vgg-core type, so the run
 * speaks vgg-core's vocabulary rather than restating it.
 */

/**
 * The model as the user chose it (vgg-core's model flags): files are URIs (local paths, s3:// or http(s)://), and
 * the model name and seed are always stored, with vgg-core's defaults filled in.
 */
export type RunModelSpec = Omit<ModelFlagValues, 'model' | 'seed' | 'batchNorm'> & {
  model: string;
  seed: number;
  /** Stored only when true. */
  batchNorm?: boolean;
};

/** Preprocessing, as vgg-core's PreprocessOptions; a run stores only the fields its options set. */
export type RunPreprocessSpec = PreprocessOptions;

/** What each row holds (vgg-core's InferenceRequest) and where the outputs go. */
export type RunOutputSpec = InferenceRequest & {
  /** `s3://bucket/prefix` or an absolute local directory; the run writes under `<out>/<runId>/`. */
  out: string;
  /** Also write clip-retrieval style `.npy` embedding shards. */
  npy: boolean;
  /** A pair run (`--pairs`): rows are pairs of images scored by the model's pair head; absent for image runs. */
  pairs?: RunPairsSpec;
  /**
   * Query parameters (lowercase) stripped from the outputs' URIs besides the built-in secret list
   * (`--redact-params`); absent for none.
   */
  redactParams?: string[];
};

/** What a pair run scores (see README, "Perceptual distance and style statistics"). */
export interface RunPairsSpec {
  /** The pairs manifest as given (columns a, b). */
  manifest: string;
  /** Layer of the feature reconstruction loss. */
  contentLayer: string;
  /** LPIPS's learned linear weights (.safetensors URI); absent: unweighted. */
  lpipsWeights?: string;
  /**
   * `native` (`--pair-size native`): each image at its own size, no Resize and no CenterCrop; a and b must be the
   * same size. Absent: the run's resize and crop.
   */
  size?: 'native';
}

/**
 * How the run's sources are read (the producer's listing) and which of their columns its rows carry (`keepCols`
 * become output columns of every shard, see output-columns.ts).
 */
export type RunInputSpec = ListInputOptions & { keepCols: string[] };

export interface RunSpec {
  runId: string;
  createdAt: string;
  model: RunModelSpec;
  preprocess: RunPreprocessSpec;
  input: RunInputSpec;
  output: RunOutputSpec;
  /** URIs per chunk job. */
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

/** A stored spec; runs submitted before input options existed read as reading their sources by extension. */
export function parseSpec(raw: string): RunSpec {
  const spec = JSON.parse(raw) as RunSpec;
  spec.input ??= { keepCols: [] };
  return spec;
}

/** JSON with object keys sorted, so two specs compare equal whatever order their fields were written in. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : v,
  );
}
