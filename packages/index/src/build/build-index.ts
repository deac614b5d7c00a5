import { randomBytes } from 'node:crypto';
import { availableParallelism, tmpdir } from 'node:os';
import { isPipelineError, type OpenObjectStoreDeps } from 'vgg-pipeline';
import { IndexError, invalidOption } from '../errors.js';
import {
  INDEX_FORMAT,
  INDEX_MANIFEST_KEY,
  type IndexManifest,
  type IndexPart,
  parseIndexManifest,
  partKeys,
  serializeIndexManifest,
} from '../format/index-manifest.js';
import { emptySidecar, encodeSidecar, type SidecarRows } from '../format/sidecar.js';
import { type HnswOptions, type HnswSettings, resolveHnswSettings } from '../hnsw/hnsw-settings.js';
import { IndexBuilder } from '../hnsw/index-builder.js';
import { usearchVersion } from '../hnsw/native-index.js';
import { findRunTap, openRun, type RunOutput } from '../run/run-output.js';
import { streamShardVectors } from '../run/stream-shards.js';
import { hashFile, IndexLocation } from '../storage/index-location.js';
import { defaultMaxPartVectors, type PlannedPart, planParts } from './part-plan.js';

/** Options of {@link buildIndex}. */
export interface BuildIndexOptions extends HnswOptions {
  /** A finished run's output directory, `<out>/<run-id>/`: local or s3://. */
  run: string;
  /** Embedding tap to index, e.g. `fc7`; the run must have written it. */
  tap: string;
  /** Where the index goes: a local directory or an s3:// prefix. */
  out: string;
  /**
   * Most vectors per part. Default: as many as fit in half this machine's memory. A run with more ok rows gets
   * several parts, built one after another; queries search them all and merge.
   */
  maxPartVectors?: number;
  /** Native threads inserting vectors. Default: the machine's available parallelism. */
  threads?: number;
  /** Replace an index already at `out`. Default false. */
  overwrite?: boolean;
  /** Where parts bound for S3 are staged before upload. Default the OS temp directory. */
  tmpDir?: string;
  /** Called after every shard and part. */
  onProgress?: (progress: BuildProgress) => void;
  signal?: AbortSignal;
}

/** Progress of {@link buildIndex}. */
export interface BuildProgress {
  stage: 'indexing' | 'saving' | 'done';
  /** 0-based part being built, and the planned number of parts. */
  part: number;
  parts: number;
  /** Vectors indexed so far, and the run's ok rows (the most there can be). */
  vectors: number;
  expectedVectors: number;
  shards: number;
  totalShards: number;
}

/** Result of {@link buildIndex}. */
export interface BuildIndexResult {
  /** Index location as users write it. */
  uri: string;
  manifest: IndexManifest;
}

/** Vectors whose norms are all within this of 1 count as L2-normalised (float16 storage rounds the norm). */
const UNIT_NORM_TOLERANCE = 2e-3;

/**
 * Builds an HNSW index of one tap of a finished run: streams its shards in manifest order (prefetching), inserts
 * every ok row's vector into usearch (in a worker thread, one part at a time), writes each part's index file and
 * sidecar, and commits by writing `index.json` last. Memory holds one part's index plus a few shards.
 */
export async function buildIndex(
  options: BuildIndexOptions,
  deps: OpenObjectStoreDeps,
): Promise<BuildIndexResult> {
  const settings = resolveHnswSettings(options);
  const threads = options.threads ?? availableParallelism();
  if (!Number.isSafeInteger(threads) || threads < 1)
    throw invalidOption('threads', 'positive integer', threads);
  if (typeof options.tap !== 'string' || options.tap === '')
    throw invalidOption('tap', 'tap name such as "fc7"', options.tap);
  const run = await openRun(options.run, deps);
  const tap = findRunTap(run, options.tap);
  const maxPartVectors = options.maxPartVectors ?? defaultMaxPartVectors(tap.dim, settings);
  const plan = planParts(run.manifest.shards, maxPartVectors);

  const location = IndexLocation.open(options.out, deps);
  const previous = await readExisting(location, options.overwrite ?? false);
  const buildId = `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${randomBytes(3).toString('hex')}`;
  const published: string[] = [];
  const counts = { vectors: 0, rows: 0, errorRows: 0, skippedRows: 0 };
  const progress: BuildProgress = {
    stage: 'indexing',
    part: 0,
    parts: plan.length,
    vectors: 0,
    expectedVectors: run.manifest.totals.ok,
    shards: 0,
    totalShards: run.manifest.shards.length,
  };
  let unitNorm = true;
  const parts: IndexPart[] = [];
  try {
    for (const [partNumber, planned] of plan.entries()) {
      progress.part = partNumber;
      const built = await buildPart({
        run,
        planned,
        tapName: tap.name,
        settings,
        threads,
        firstId: counts.vectors,
        onShard: (added, shardRows, errorRows, skipped, allUnit) => {
          counts.vectors += added;
          counts.rows += shardRows;
          counts.errorRows += errorRows;
          counts.skippedRows += skipped;
          unitNorm &&= allUnit;
          progress.vectors = counts.vectors;
          progress.shards++;
          options.onProgress?.({ ...progress });
        },
        onSaving: () => options.onProgress?.({ ...progress, stage: 'saving' }),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (built.sidecar.uri.length === 0) {
        await built.close();
        continue;
      }
      const keys = partKeys(buildId, parts.length);
      const staged = await location.stagingPath(keys.indexKey, options.tmpDir ?? tmpdir());
      const { save } = built;
      try {
        await save(staged);
      } finally {
        await built.close();
      }
      const { sha256, bytes } = await hashFile(staged);
      published.push(keys.indexKey);
      await location.publish(keys.indexKey, staged);
      published.push(keys.rowsKey);
      await location.store.put(
        keys.rowsKey,
        encodeSidecar(built.sidecar, {
          'vgg.run_id': run.manifest.runId,
          'vgg.tap': tap.name,
          'vgg.part': String(parts.length),
        }),
        { contentType: 'application/vnd.apache.parquet' },
      );
      parts.push({
        part: parts.length,
        ...keys,
        firstId: built.sidecar.firstId,
        vectors: built.sidecar.uri.length,
        indexBytes: bytes,
        indexSha256: sha256,
        shards: { first: planned.first, count: planned.count },
      });
    }
    if (counts.vectors === 0) {
      throw new IndexError(
        'INDEX_RUN_INVALID',
        `Run ${run.manifest.runId} has no ${tap.name} vectors to index (${counts.errorRows} failed rows, ${counts.skippedRows} unusable vectors)`,
        { uri: run.uri },
      );
    }
    const manifest: IndexManifest = {
      format: INDEX_FORMAT,
      buildId,
      createdAt: new Date().toISOString(),
      run: {
        runId: run.manifest.runId,
        uri: run.uri,
        manifestSha256: run.manifestSha256,
        model: run.manifest.model,
        ...(run.manifest.spec !== undefined ? { spec: run.manifest.spec } : {}),
        preprocessing: run.manifest.preprocessing,
      },
      tap,
      settings,
      l2Normalized: unitNorm,
      counts,
      maxPartVectors,
      parts,
      library: `usearch ${usearchVersion()}`,
    };
    await location.store.put(INDEX_MANIFEST_KEY, serializeIndexManifest(manifest), {
      contentType: 'application/json',
    });
    published.length = 0;
    if (previous !== null) await deleteParts(location, previous);
    options.onProgress?.({ ...progress, stage: 'done', part: plan.length });
    return { uri: location.uri, manifest };
  } finally {
    // A failed build leaves no files behind; the previous index (if any) stays intact.
    for (const key of published) await location.store.delete(key).catch(() => undefined);
  }
}

async function readExisting(location: IndexLocation, overwrite: boolean): Promise<IndexManifest | null> {
  let bytes: Uint8Array;
  try {
    bytes = await location.store.get(INDEX_MANIFEST_KEY);
  } catch (cause) {
    if (isPipelineError(cause, 'STORAGE_NOT_FOUND')) return null;
    throw cause;
  }
  if (!overwrite) {
    throw new IndexError(
      'INDEX_EXISTS',
      `An index already exists at ${location.uri}; pass --overwrite to replace it (or choose another --out)`,
      { uri: location.uri },
    );
  }
  try {
    return parseIndexManifest(bytes, location.describe(INDEX_MANIFEST_KEY));
  } catch {
    // Unreadable: it is replaced, but its parts cannot be found to delete.
    return null;
  }
}

async function deleteParts(location: IndexLocation, manifest: IndexManifest): Promise<void> {
  for (const part of manifest.parts) {
    await location.store.delete(part.indexKey).catch(() => undefined);
    await location.store.delete(part.rowsKey).catch(() => undefined);
  }
}

interface BuildPartInput {
  run: RunOutput;
  planned: PlannedPart;
  tapName: string;
  settings: HnswSettings;
  threads: number;
  firstId: number;
  onShard: (added: number, rows: number, errorRows: number, skipped: number, allUnitNorm: boolean) => void;
  onSaving: () => void;
  signal?: AbortSignal;
}

interface BuiltPart {
  sidecar: SidecarRows;
  save: (file: string) => Promise<void>;
  close: () => Promise<void>;
}

async function buildPart(input: BuildPartInput): Promise<BuiltPart> {
  const { run, planned, settings } = input;
  const tap = findRunTap(run, input.tapName);
  const dim = tap.dim;
  const shards = run.manifest.shards.slice(planned.first, planned.first + planned.count);
  const builder = IndexBuilder.create(dim, settings, input.threads);
  const sidecar = emptySidecar(input.firstId);
  // Batches go to the builder through its shared slots: no memory is allocated per batch.
  const inFlight: Promise<number>[] = [];
  let batch = await builder.batch();
  let batchSize = 0;
  const flush = async () => {
    if (batchSize === 0) return;
    const added = builder.add(batch, batchSize);
    added.catch(() => undefined);
    inFlight.push(added);
    if (inFlight.length > 2) await inFlight.shift();
    batch = await builder.batch();
    batchSize = 0;
  };
  try {
    for await (const shard of streamShardVectors(run, shards, tap)) {
      input.signal?.throwIfAborted();
      if (shard.rows.length !== shard.shard.ok) {
        throw new IndexError(
          'INDEX_RUN_INVALID',
          `Shard ${shard.shard.key} has ${shard.rows.length} ok rows with ${tap.name} vectors but the manifest says ${shard.shard.ok}`,
          { uri: run.store.describe(shard.shard.key) },
        );
      }
      let added = 0;
      let skipped = 0;
      let allUnit = true;
      for (let i = 0; i < shard.rows.length; i++) {
        const norm = shard.norms[i] as number;
        if (!Number.isFinite(norm) || (norm === 0 && settings.metric === 'cos')) {
          skipped++;
          continue;
        }
        if (Math.abs(norm - 1) > UNIT_NORM_TOLERANCE) allUnit = false;
        batch.vectors.set(shard.vectors.subarray(i * dim, (i + 1) * dim), batchSize * dim);
        batch.keys[batchSize] = BigInt(sidecar.firstId + sidecar.uri.length);
        batchSize++;
        sidecar.uri.push(shard.uris[i] as string);
        sidecar.sha256.push(shard.sha256[i] ?? null);
        sidecar.key.push(shard.shard.key);
        sidecar.shard.push(shard.shard.chunkIndex);
        sidecar.row.push(shard.rows[i] as number);
        added++;
        if (batchSize === builder.batchVectors) await flush();
      }
      input.onShard(added, shard.shard.rows, shard.errorRows, skipped, allUnit);
    }
    if (batchSize > 0) {
      inFlight.push(builder.add(batch, batchSize));
      batchSize = 0;
    }
    await Promise.all(inFlight);
  } catch (error) {
    await builder.close();
    throw error;
  }
  return {
    sidecar,
    save: async (file) => {
      input.onSaving();
      const size = await builder.save(file);
      if (size !== sidecar.uri.length) {
        throw new IndexError(
          'INDEX_NATIVE',
          `Index part holds ${size} vectors, expected ${sidecar.uri.length}`,
        );
      }
    },
    close: () => builder.close(),
  };
}
