import type { ManifestShard, ManifestTap } from 'vgg-pipeline';
import type { RunOutput } from './run-output.js';
import { readShardVectors, type ShardVectors } from './shard-vectors.js';

/**
 * Yields the vectors of `shards` in order, downloading up to `prefetch` shards ahead while the caller indexes the
 * current one. Memory holds at most prefetch + 1 shards.
 */
export async function* streamShardVectors(
  run: RunOutput,
  shards: readonly ManifestShard[],
  tap: ManifestTap,
  prefetch = 2,
): AsyncGenerator<ShardVectors, void, undefined> {
  const pending: Promise<Uint8Array>[] = [];
  let requested = 0;
  const fill = () => {
    while (requested < shards.length && pending.length <= prefetch) {
      const download = run.store.get((shards[requested] as ManifestShard).key);
      // Awaited in order below; until then a failure must not count as unhandled.
      download.catch(() => undefined);
      pending.push(download);
      requested++;
    }
  };
  for (const shard of shards) {
    fill();
    const bytes = await (pending.shift() as Promise<Uint8Array>);
    fill();
    yield readShardVectors(bytes, shard, tap);
  }
}
