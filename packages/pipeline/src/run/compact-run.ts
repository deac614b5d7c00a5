import type { S3Client } from '@aws-sdk/client-s3';
import type { Data, DataType, Field, RecordBatch, Table } from 'apache-arrow';
import { type ParquetLibs, parquetLibs } from '../formats/parquet-libs.js';
import { RunError, runNotFound } from '../errors.js';
import type { ObjectStore } from '../storage/object-store.js';
import { TAR_METADATA_KEY } from './chunk-input.js';
import { type Manifest, type ManifestShard, parseManifest, serializeManifest } from './manifest.js';
import { MANIFEST_KEY, openRunOutput } from './output-layout.js';
import type { RunStore } from './run-store.js';

/** Options of {@link compactRun}. */
export interface CompactRunOptions {
  /** Size of each new file, by the sizes of the shards it joins. Default 128 MiB. */
  targetBytes?: number;
  /** Delete the shards the previous manifest listed once the new one is written. Default false. */
  prune?: boolean;
  /** Called after each file is written. */
  onProgress?: (progress: { files: number; shards: number; totalShards: number }) => void;
}

/** What a compaction did. */
export interface CompactResult {
  /** The new manifest's version, and its URI. */
  version: number;
  manifest: string;
  /** Files before and after. */
  shardsBefore: number;
  filesAfter: number;
  rows: number;
  /** Keys deleted with `prune`. */
  pruned: number;
}

export const DEFAULT_COMPACT_TARGET_BYTES = 128 * 1024 * 1024;

/**
 * Rewrites a finalised run's small shards into files of about `targetBytes` (consecutive shards, rows in manifest
 * order, the same columns), then points `_manifest.json` at them in one atomic write: readers of the old manifest
 * keep reading the old shards, which stay until `prune`; readers of the new one see only complete files. The new
 * files go under `compacted/v<N>/` where N is the new manifest's version, and the previous manifest is kept as
 * `_manifests/v<N-1>.json`. Refused while the run is not finalised; if the run is re-opened meanwhile (retry-failed)
 * the manifest is left alone and the new files are orphans that the next compaction overwrites.
 */
export async function compactRun(
  runId: string,
  deps: { runStore: RunStore; s3: S3Client | (() => S3Client) },
  options: CompactRunOptions = {},
): Promise<CompactResult> {
  const targetBytes = options.targetBytes ?? DEFAULT_COMPACT_TARGET_BYTES;
  const status = await deps.runStore.status(runId);
  if (!status) throw runNotFound(runId);
  if (status.state !== 'finalized') {
    throw new RunError(
      'RUN_INVALID',
      { runId, field: 'state' },
      `Run ${runId} is ${status.state}; compact it once it is finalised (vgg-producer status ${runId})`,
    );
  }
  const store = openRunOutput(status.spec.output.out, runId, { s3: deps.s3 });
  const manifestBytes = await store.get(MANIFEST_KEY);
  const previous = parseManifest(manifestBytes);
  const version = (previous.version ?? 1) + 1;
  const sizes = new Map<string, number>();
  for (const prefix of ['shards/', 'compacted/']) {
    for await (const entry of store.list(prefix)) sizes.set(entry.key, entry.size);
  }
  const groups = planGroups(previous.shards, sizes, targetBytes);
  const shards: ManifestShard[] = [];
  let done = 0;
  for (const [index, group] of groups.entries()) {
    const key = `compacted/v${version}/part-${String(index).padStart(5, '0')}.parquet`;
    const chunks: [number, number] = [
      firstChunk(group[0] as ManifestShard),
      lastChunk(group.at(-1) as ManifestShard),
    ];
    await store.put(key, await joinShards(store, group, { version, chunks }), {
      contentType: 'application/vnd.apache.parquet',
    });
    const sum = (pick: (s: ManifestShard) => number) => group.reduce((n, s) => n + pick(s), 0);
    shards.push({
      key,
      chunkIndex: index,
      rows: sum((s) => s.rows),
      ok: sum((s) => s.ok),
      error: sum((s) => s.error),
      chunks,
    });
    done += group.length;
    options.onProgress?.({ files: index + 1, shards: done, totalShards: previous.shards.length });
  }
  const next: Manifest = {
    ...previous,
    version,
    shards,
    compaction: { from: previous.version ?? 1, targetBytes, compactedAt: new Date().toISOString() },
  };
  // Nothing may have re-opened the run or rewritten its manifest while the files were written.
  const now = await deps.runStore.status(runId);
  const current = await store.get(MANIFEST_KEY);
  if (
    now?.state !== 'finalized' ||
    now.manifestWrittenAt !== status.manifestWrittenAt ||
    !sameBytes(current, manifestBytes)
  ) {
    throw new RunError(
      'RUN_CONFLICT',
      { runId, field: 'manifest' },
      `Run ${runId} changed while it was compacted (retried or re-finalised); its manifest is untouched. Compact again once it is finalised.`,
    );
  }
  await store.put(`_manifests/v${previous.version ?? 1}.json`, manifestBytes, {
    contentType: 'application/json',
  });
  await store.put(MANIFEST_KEY, serializeManifest(next), { contentType: 'application/json' });
  let pruned = 0;
  if (options.prune) {
    const kept = new Set(shards.map((s) => s.key));
    for (const shard of previous.shards) {
      if (kept.has(shard.key)) continue;
      await store.delete(shard.key);
      pruned++;
    }
  }
  return {
    version,
    manifest: store.describe(MANIFEST_KEY),
    shardsBefore: previous.shards.length,
    filesAfter: shards.length,
    rows: shards.reduce((n, s) => n + s.rows, 0),
    pruned,
  };
}

/** Consecutive shards whose sizes add up to about the target (a shard larger than it stays alone). */
function planGroups(
  shards: readonly ManifestShard[],
  sizes: ReadonlyMap<string, number>,
  targetBytes: number,
): ManifestShard[][] {
  const groups: ManifestShard[][] = [];
  let group: ManifestShard[] = [];
  let bytes = 0;
  for (const shard of shards) {
    const size = sizes.get(shard.key) ?? 0;
    if (group.length > 0 && bytes + size > targetBytes) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(shard);
    bytes += size;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

const firstChunk = (shard: ManifestShard) => shard.chunks?.[0] ?? shard.chunkIndex;
const lastChunk = (shard: ManifestShard) => shard.chunks?.[1] ?? shard.chunkIndex;

/**
 * One Parquet file of the shards' rows in order, encoded as the worker encodes shards (zstd, no dictionary). Shards
 * without some column (a chunk that failed before a model loaded has no embedding columns) get nulls in it.
 */
async function joinShards(
  store: ObjectStore,
  group: readonly ManifestShard[],
  compacted: { version: number; chunks: [number, number] },
): Promise<Uint8Array> {
  const libs = await parquetLibs();
  const { Field, makeData, RecordBatch, Schema, Struct, Table, tableFromIPC, tableToIPC } = libs.arrow;
  const { Compression, readParquet, Table: WasmTable, WriterPropertiesBuilder, writeParquet } = libs.parquet;
  const tables: Table[] = [];
  for (const shard of group)
    tables.push(tableFromIPC(readParquet(await store.get(shard.key)).intoIPCStream()));
  const fields: Field[] = [];
  for (const table of tables) {
    for (const field of table.schema.fields) {
      if (!fields.some((f) => f.name === field.name)) fields.push(new Field(field.name, field.type, true));
    }
  }
  const schema = new Schema(fields);
  const batches: RecordBatch[] = [];
  for (const table of tables) {
    for (const batch of table.batches) {
      const children = fields.map(
        (field) =>
          (batch.getChild(field.name)?.data[0] as Data | undefined) ??
          nullData(libs, field.type, batch.numRows),
      );
      batches.push(
        new RecordBatch(
          schema,
          makeData({ type: new Struct(fields), length: batch.numRows, nullCount: 0, children }),
        ),
      );
    }
  }
  // The model identity and preprocessing of the run's shards; a tar shard's name belongs to its own chunk only.
  const metadata = new Map(
    [
      ...((tables.find((t) => t.schema.metadata.has('vgg.preprocess')) ?? tables[0])?.schema.metadata ?? []),
    ].filter(([key]) => key !== TAR_METADATA_KEY && key !== 'ARROW:schema'),
  );
  metadata.set('vgg.compacted', JSON.stringify(compacted));
  const ipc = tableToIPC(new Table(schema, batches), 'stream');
  const properties = new WriterPropertiesBuilder()
    .setCompression(Compression.ZSTD)
    .setDictionaryEnabled(false)
    .setKeyValueMetadata(metadata)
    .setCreatedBy('vgg-batch compact (parquet-wasm)')
    .build();
  return writeParquet(WasmTable.fromIPCStream(ipc), properties);
}

function nullData({ arrow }: ParquetLibs, type: DataType, length: number): Data {
  return arrow.vectorFromArray(new Array(length).fill(null), type).data[0] as Data;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a).equals(Buffer.from(b));
}
