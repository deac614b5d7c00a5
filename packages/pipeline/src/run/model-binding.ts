import {
  describeRequestedModel,
  type ModelIdentity,
  type ModelOptions,
  modelOptionsOf,
  type RequestedModelIdentity,
  type ResolvedPreprocessOptions,
} from 'vgg-core';
import { redactUri } from '../uri.js';
import type { ManifestTap } from './manifest.js';
import type { RunModelSpec } from './run-spec.js';

/**
 * vgg-core's {@link ModelOptions} for a run's model, with its files at local paths. This is the one mapping from
 * the stored spec to vgg-core: an ONNX file fixes its own architecture, so the model name and seed that every spec
 * stores are left out for it.
 */
export function modelOptionsForRun(
  model: RunModelSpec,
  files: { weightsPath?: string; onnxPath?: string } = {},
): ModelOptions {
  if (model.onnx === undefined)
    return modelOptionsOf({ ...model, batchNorm: model.batchNorm ?? false }, files);
  const { model: _name, seed: _seed, ...onnx } = model;
  return modelOptionsOf({ ...onnx, batchNorm: false }, files);
}

/** What vgg-core says of a run's model before any worker loads it (for a run none of whose chunks did). */
export function requestedModelIdentity(model: RunModelSpec): RequestedModelIdentity {
  // An ONNX file's variant is named after its URI: never after a presigned query.
  return describeRequestedModel(modelOptionsForRun(redactedModelSpec(model)));
}

/**
 * A run's model spec as outputs, manifests and status may show it: the `--weights` and `--onnx` URIs redacted like
 * input URIs (user-info, presigned queries and the run's `--redact-params` removed). Workers load from the spec as
 * stored.
 */
export function redactedModelSpec(model: RunModelSpec, extraParams: readonly string[] = []): RunModelSpec {
  return {
    ...model,
    ...(model.weights !== undefined ? { weights: redactUri(model.weights, extraParams) } : {}),
    ...(model.onnx !== undefined ? { onnx: redactUri(model.onnx, extraParams) } : {}),
  };
}

/**
 * What the first worker to load a run's model records about it in Redis: later workers must load the same
 * weights, and the manifest describes the model, the taps and the preprocessing from it.
 */
export interface RunModelBinding {
  identity: ModelIdentity;
  taps: ManifestTap[];
  preprocessing: ResolvedPreprocessOptions;
}

/** Parses a stored binding, refusing anything that is not one (a binding is only ever written by workers). */
export function parseModelBinding(text: string): RunModelBinding {
  const value = JSON.parse(text) as Partial<RunModelBinding> | null;
  const identity = value?.identity;
  if (
    typeof identity?.weightsSha256 !== 'string' ||
    typeof identity.variant !== 'string' ||
    typeof identity.untrained !== 'boolean' ||
    !Array.isArray(value?.taps) ||
    typeof value?.preprocessing !== 'object' ||
    value.preprocessing === null
  ) {
    throw new TypeError(`Stored model binding is not one: ${text.slice(0, 80)}`);
  }
  return value as RunModelBinding;
}
