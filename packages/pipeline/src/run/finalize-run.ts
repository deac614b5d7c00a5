import { randomUUID } from 'node:crypto';
import type { ObjectStore } from '../storage/object-store.js';
import {
  buildManifest,
  type JsonValue,
  type ManifestModel,
  parseManifest,
  serializeManifest,
} from './manifest.js';
import { redactedModelSpec, requestedModelIdentity } from './model-binding.js';
import { MANIFEST_KEY, tapOfNpyKey } from './output-layout.js';
import type { RunStore } from './run-store.js';

export interface FinalizeRunOptions {
  runStore: RunStore;
  /** The run's output directory (`<out>/<runId>/`). */
  store: ObjectStore;
  runId: string;
  /** Who finalises, recorded in the lock for operators. */
  owner: string;
}

/**
 * Writes `_manifest.json` once every chunk of the run is committed. Exactly one caller wins the finalisation lock;
 * the others return null. Safe to call after every chunk, and from producers. Returns the manifest's URI.
 */
export async function finalizeRun(options: FinalizeRunOptions): Promise<string | null> {
  const { runStore, store, runId } = options;
  // Unique per call: the lock's owner alone may end the finalisation it began.
  const owner = `${options.owner}#${randomUUID().slice(0, 8)}`;
  if (!(await runStore.tryBeginFinalize(runId, owner))) return null;
  try {
    const status = await runStore.status(runId);
    if (!status) throw new Error(`Run ${runId} has no spec`);
    const binding = await runStore.getModelBinding(runId);
    const providers = [
      ...new Set(status.records.map((r) => r.provider).filter((p) => p !== 'none' && p !== 'recovered')),
    ];
    const model: ManifestModel = binding
      ? { ...binding.identity, providers }
      : // No chunk ever loaded the model (every chunk failed before): vgg-core describes what was asked for.
        { ...requestedModelIdentity(status.spec.model), weightsSha256: '', providers };
    const npy = status.records.flatMap((r) =>
      (r.npyKeys ?? [])
        .filter((key) => key.endsWith('.npy'))
        .map((key) => {
          const tap = tapOfNpyKey(key);
          const info = binding?.taps.find((t) => t.name === tap);
          return {
            key,
            chunkIndex: r.chunkIndex,
            tap,
            rows: r.ok,
            dim: info?.dim ?? 0,
            dtype: info?.dtype ?? 'float32',
          };
        }),
    );
    // A run finalised again (after retry-failed, or a compaction) gets the next version.
    const earlier = await store
      .get(MANIFEST_KEY)
      .then((bytes) => parseManifest(bytes).version ?? 1)
      .catch(() => 0);
    const manifest = buildManifest({
      runId,
      version: earlier + 1,
      createdAt: status.spec.createdAt,
      model,
      spec: {
        model: redactedModelSpec(status.spec.model, status.spec.output.redactParams),
        l2Normalize: status.spec.output.l2Normalize,
      },
      preprocessing: (binding?.preprocessing ?? status.spec.preprocess) as { [key: string]: JsonValue },
      taps: binding?.taps ?? [],
      topK: status.spec.output.topK,
      inputs: status.totalInputs ?? status.rows,
      shards: status.records.map((r) => ({
        key: r.shardKey,
        chunkIndex: r.chunkIndex,
        rows: r.rows,
        ok: r.ok,
        error: r.error,
        errorsByReason: r.errorsByReason,
        ...(r.duplicates ? { duplicates: r.duplicates } : {}),
        ...(r.skippedMembers ? { skippedMembers: r.skippedMembers } : {}),
      })),
      ...(status.spec.output.npy ? { npy } : {}),
    });
    await store.put(MANIFEST_KEY, serializeManifest(manifest), { contentType: 'application/json' });
    // False when retry-failed re-opened the run meanwhile: it finalises again, with a newer manifest, once the
    // retried chunks are committed.
    if (!(await runStore.markFinalized(runId, owner))) return null;
    // Original URIs are kept only while a chunk may be retried: a chunk without error rows needs them no more.
    await runStore.dropChunkInputs(
      runId,
      status.records.filter((r) => !r.failed && r.error === 0).map((r) => r.chunkIndex),
    );
    return store.describe(MANIFEST_KEY);
  } catch (error) {
    // Only the run state changes: chunk outputs and records stay as they are, and the next caller (a worker's
    // next commit, or `vgg-producer submit` of the same run) tries again.
    await runStore.releaseFinalize(runId, owner, (error as Error).message);
    throw error;
  }
}
