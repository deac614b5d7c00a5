import { isVggError } from 'vgg-core';
import { classifyS3Error, isPipelineError } from 'vgg-pipeline';

/** File-system errors that another try will meet again: the path is missing, not a file, or not readable. */
const PERMANENT_ERRNOS = new Set(['ENOENT', 'ENOTDIR', 'EISDIR', 'EACCES', 'EPERM']);

/**
 * Whether a failure to load a run's model will recur however often it is retried (so the run's chunks should
 * fail at once): the first error along the `cause` chain that says either way decides. A missing or refused file
 * (HTTP 4xx other than 408/429, S3 NoSuchKey/NoSuchBucket/AccessDenied, ENOENT, a blocked address) and a file that
 * is not a valid model (vgg-core's weights, format and option errors) are permanent. Anything else (5xx, 429,
 * timeouts, resets, a provider that failed to start on this machine) is transient: the chunk is retried.
 */
export function isPermanentLoadFailure(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    const verdict = verdictOf(current);
    if (verdict !== undefined) return verdict;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

function verdictOf(error: object): boolean | undefined {
  // Weights that do not fit, an invalid ONNX file, a tap the model lacks: the run's model itself is wrong.
  if (isVggError(error, 'VGG_WEIGHTS', 'VGG_MODEL_FORMAT', 'VGG_INVALID_OPTION', 'VGG_UNKNOWN_TAP'))
    return true;
  // A provider that would not start (or a failed run) says something about this machine, not the run.
  if (isVggError(error)) return false;
  if (isPipelineError(error, 'FETCH_FAILED')) return !error.transient;
  if (isPipelineError(error, 'FORBIDDEN_ADDRESS', 'STORAGE_PERMANENT', 'STORAGE_NOT_FOUND')) return true;
  if (isPipelineError(error, 'STORAGE_TRANSIENT')) return false;
  const { code, $metadata, message } = error as { code?: unknown; $metadata?: unknown; message?: unknown };
  if (typeof code === 'string' && PERMANENT_ERRNOS.has(code)) return true;
  if ($metadata !== undefined) {
    const s3 = classifyS3Error(error);
    if (s3.transient) return false;
    if (s3.notFound || s3.noSuchBucket || s3.forbidden) return true;
  }
  // ModelFiles reports a failed HTTP response as "HTTP <status>".
  const status = typeof message === 'string' ? /\bHTTP (\d{3})\b/.exec(message)?.[1] : undefined;
  if (status !== undefined) {
    const n = Number(status);
    return n >= 400 && n < 500 && n !== 408 && n !== 429;
  }
  return undefined;
}
