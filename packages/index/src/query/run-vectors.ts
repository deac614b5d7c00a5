import type { ManifestShard, OpenObjectStoreDeps } from 'vgg-pipeline';
import { IndexError } from '../errors.js';
import type { IndexManifest, IndexPart } from '../format/index-manifest.js';
import type { SidecarRow } from '../format/sidecar.js';
import { openRun, type RunOutput } from '../run/run-output.js';
import { readShardVectors } from '../run/shard-vectors.js';
import { streamShardVectors } from '../run/stream-shards.js';

/**
 * Opens the run an index was built from, refusing it when its `_manifest.json` changed since (then ids may no
 * longer match rows). usearch keeps no way to read vectors back, so stored vectors come from the run's shards.
 */
export async function openIndexedRun(manifest: IndexManifest, deps: OpenObjectStoreDeps): Promise<RunOutput> {
  const run = await openRun(manifest.run.uri, deps);
  if (run.manifestSha256 !== manifest.run.manifestSha256) {
    throw new IndexError(
      'INDEX_STALE',
      `Run ${manifest.run.runId} at ${run.uri} changed after the index was built (its manifest hash differs); build the index again`,
      { uri: run.uri },
    );
  }
  return run;
}

/** The stored vectors of `rows` (from the sidecar), read from their shards, row-major in the given order. */
export async function vectorsOfRows(
  run: RunOutput,
  manifest: IndexManifest,
  rows: readonly SidecarRow[],
): Promise<Float32Array> {
  const dim = manifest.tap.dim;
  const out = new Float32Array(rows.length * dim);
  const byKey = new Map<string, number[]>();
  rows.forEach((row, i) => {
    byKey.set(row.key, [...(byKey.get(row.key) ?? []), i]);
  });
  for (const [key, positions] of byKey) {
    const shard = shardEntry(run, key);
    const vectors = readShardVectors(await run.store.get(key), shard, manifest.tap);
    for (const position of positions) {
      const wanted = (rows[position] as SidecarRow).row;
      const at = vectors.rows.indexOf(wanted);
      if (at < 0) {
        throw new IndexError(
          'INDEX_STALE',
          `Row ${wanted} of ${key} has no ${manifest.tap.name} vector any more`,
          {
            uri: run.store.describe(key),
          },
        );
      }
      out.set(vectors.vectors.subarray(at * dim, (at + 1) * dim), position * dim);
    }
  }
  return out;
}

/** A part's vectors with their ids, one batch per shard, in id order: the same rows the build indexed. */
export async function* partVectors(
  run: RunOutput,
  manifest: IndexManifest,
  part: IndexPart,
  partRows: readonly SidecarRow[],
): AsyncGenerator<{ ids: number[]; vectors: Float32Array }, void, undefined> {
  const dim = manifest.tap.dim;
  const shards = run.manifest.shards.slice(part.shards.first, part.shards.first + part.shards.count);
  let next = 0;
  for await (const shard of streamShardVectors(run, shards, manifest.tap)) {
    const ids: number[] = [];
    const positions: number[] = [];
    for (let i = 0; i < shard.rows.length; i++) {
      const expected = partRows[next];
      // Rows the build skipped (non-finite or zero vectors) have no sidecar row.
      if (expected !== undefined && expected.key === shard.shard.key && expected.row === shard.rows[i]) {
        ids.push(expected.id);
        positions.push(i);
        next++;
      }
    }
    const vectors = new Float32Array(ids.length * dim);
    positions.forEach((p, j) => {
      vectors.set(shard.vectors.subarray(p * dim, (p + 1) * dim), j * dim);
    });
    yield { ids, vectors };
  }
  if (next !== partRows.length) {
    throw new IndexError(
      'INDEX_STALE',
      `Part ${part.part}: ${partRows.length - next} indexed rows were not found in the run's shards`,
      {
        uri: run.uri,
      },
    );
  }
}

function shardEntry(run: RunOutput, key: string): ManifestShard {
  const shard = run.manifest.shards.find((s) => s.key === key);
  if (shard === undefined) {
    throw new IndexError('INDEX_STALE', `Run ${run.manifest.runId} no longer lists shard ${key}`, {
      uri: run.uri,
    });
  }
  return shard;
}
