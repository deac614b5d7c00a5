import { createHash } from 'node:crypto';
import {
  isPipelineError,
  MANIFEST_KEY,
  type Manifest,
  type ManifestShard,
  type ManifestTap,
  type ObjectStore,
  type OpenObjectStoreDeps,
  openObjectStore,
  parseLocation,
  parseManifest,
} from 'vgg-pipeline';
import { IndexError } from '../errors.js';

/** A finished run's output directory (`<out>/<run>/`), read through its manifest. */
export interface RunOutput {
  /** User-facing location: `s3://bucket/prefix/` or an absolute local directory. */
  uri: string;
  store: ObjectStore;
  manifest: Manifest;
  /** sha256 (hex) of the `_manifest.json` bytes, so an index can tell when its run was rewritten. */
  manifestSha256: string;
}

/** Opens a run's output directory and reads its `_manifest.json`. */
export async function openRun(uri: string, deps: OpenObjectStoreDeps): Promise<RunOutput> {
  const location = parseLocation(uri);
  if (location.kind === 'http') {
    throw new IndexError(
      'INDEX_RUN_INVALID',
      `Expected a local directory or s3:// run output but received ${uri}`,
    );
  }
  const store = openObjectStore(location, deps);
  const display = location.kind === 's3' ? `s3://${location.bucket}/${location.prefix}` : location.dir;
  let bytes: Uint8Array;
  try {
    bytes = await store.get(MANIFEST_KEY);
  } catch (cause) {
    if (isPipelineError(cause, 'STORAGE_NOT_FOUND')) {
      throw new IndexError(
        'INDEX_RUN_INVALID',
        `No ${MANIFEST_KEY} in ${display}: give the directory of one finished run (<out>/<run-id>/); a run without a manifest has not finished`,
        { cause, uri: display },
      );
    }
    throw cause;
  }
  let manifest: Manifest;
  try {
    manifest = parseManifest(bytes);
  } catch (cause) {
    throw new IndexError(
      'INDEX_RUN_INVALID',
      `${store.describe(MANIFEST_KEY)} is not a run manifest: ${(cause as Error).message}`,
      { cause, uri: display },
    );
  }
  return { uri: display, store, manifest, manifestSha256: sha256Hex(bytes) };
}

/** The manifest's entry for `tap`, or an error listing the taps the run has. */
export function findRunTap(run: RunOutput, tap: string): ManifestTap {
  const found = run.manifest.taps.find((t) => t.name === tap);
  if (found === undefined) {
    const taps = run.manifest.taps.map((t) => t.name);
    throw new IndexError(
      'INDEX_RUN_INVALID',
      taps.length === 0
        ? `Run ${run.manifest.runId} wrote no embeddings; run it again with --taps ${tap}`
        : `Run ${run.manifest.runId} has no tap ${JSON.stringify(tap)}; it has ${taps.join(', ')}`,
      { uri: run.uri },
    );
  }
  return found;
}

/** The run's shards, in manifest (chunk) order. */
export function runShards(run: RunOutput): readonly ManifestShard[] {
  return run.manifest.shards;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
