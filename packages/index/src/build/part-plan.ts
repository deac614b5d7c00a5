import { totalmem } from 'node:os';
import type { ManifestShard } from 'vgg-pipeline';
import { estimateIndexSize, type HnswSettings } from '../hnsw/hnsw-settings.js';
import { invalidOption } from '../errors.js';

/** A planned part: consecutive shards of the run manifest. */
export interface PlannedPart {
  /** Position of the first shard in the manifest's `shards`. */
  first: number;
  count: number;
  /** ok rows in those shards, as the manifest counts them: an upper bound on the part's vectors. */
  okRows: number;
}

/**
 * Groups the run's shards, in order, into parts of at most `maxPartVectors` ok rows. A shard is never split; one
 * with more ok rows than the limit forms a part of its own.
 */
export function planParts(shards: readonly ManifestShard[], maxPartVectors: number): PlannedPart[] {
  if (!Number.isSafeInteger(maxPartVectors) || maxPartVectors < 1) {
    throw invalidOption('maxPartVectors', 'positive integer', maxPartVectors);
  }
  const parts: PlannedPart[] = [];
  let current: PlannedPart | undefined;
  shards.forEach((shard, position) => {
    if (current !== undefined && current.okRows + shard.ok > maxPartVectors) {
      parts.push(current);
      current = undefined;
    }
    current ??= { first: position, count: 0, okRows: 0 };
    current.count++;
    current.okRows += shard.ok;
  });
  if (current !== undefined) parts.push(current);
  return parts;
}

/** Fraction of the machine's memory one part may take by default. */
export const DEFAULT_MEMORY_FRACTION = 0.5;

/**
 * The default part size: as many vectors as fit in half of this machine's memory (`memoryBytes`), by
 * {@link estimateIndexSize}. A build holds one part in memory at a time.
 */
export function defaultMaxPartVectors(dim: number, settings: HnswSettings, memoryBytes = totalmem()): number {
  const perMillion = estimateIndexSize(1_000_000, dim, settings).memoryBytes;
  return Math.max(1, Math.floor((memoryBytes * DEFAULT_MEMORY_FRACTION * 1_000_000) / perMillion));
}
