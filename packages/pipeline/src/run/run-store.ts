import type { Redis } from 'ioredis';
import { RunError } from '../errors.js';
import type { ChunkRecord } from './chunk-record.js';
import { parseModelBinding, type RunModelBinding } from './model-binding.js';
import type { RunSpec, RunState } from './run-spec.js';

export interface RunStoreOptions {
  redis: Redis;
  /** Key prefix shared with BullMQ. Default `vgg`. */
  prefix?: string;
}

export interface RunStatus {
  spec: RunSpec;
  state: RunState;
  /** Set once the producer has enqueued every chunk. */
  totalChunks: number | null;
  totalInputs: number | null;
  /** Of the inputs, tar shards (whose image count is known only once read); null before enqueueing ended. */
  tarShards: number | null;
  committedChunks: number;
  rows: number;
  ok: number;
  error: number;
  modelSha256: string | null;
  manifestWrittenAt: string | null;
  records: ChunkRecord[];
  /** Why a worker could not load the run's model, when the last attempt to load it failed (see noteModelError). */
  modelError?: ModelErrorNote | null;
}

/** A worker's failure to load a run's model, for `status`. */
export interface ModelErrorNote {
  message: string;
  /** Will not succeed by retrying (HTTP 404, a corrupt file): the run's chunks fail without retries. */
  permanent: boolean;
  workerId: string;
  at: string;
}

// Moves a run to `finalizing` once every chunk is committed. The lock key expires so a finaliser that dies is
// replaced by the next caller; the state check makes a finalised run final.
const BEGIN_FINALIZE = `
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'running' and state ~= 'finalizing' then return 0 end
local total = redis.call('HGET', KEYS[1], 'totalChunks')
if not total then return 0 end
if redis.call('HLEN', KEYS[2]) < tonumber(total) then return 0 end
if redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('HSET', KEYS[1], 'state', 'finalizing')
  return 1
end
return 0
`;

/**
 * Run state in Redis: the spec, chunk commit records and the finalisation lock. Chunk records are keyed by chunk
 * index, so a chunk committed twice is still recorded once.
 */
/** What a run's model binding pins: the weights, and the resolved preprocessing as JSON. */
export interface BoundModel {
  weightsSha256: string;
  preprocessing: string;
}

export class RunStore {
  readonly redis: Redis;
  readonly prefix: string;

  constructor(options: RunStoreOptions) {
    this.redis = options.redis;
    this.prefix = options.prefix ?? 'vgg';
  }

  private runKey(runId: string): string {
    return `${this.prefix}:run:${runId}`;
  }
  private chunksKey(runId: string): string {
    return `${this.prefix}:run:${runId}:chunks`;
  }
  private lockKey(runId: string): string {
    return `${this.prefix}:run:${runId}:finalize-lock`;
  }
  private runsKey(): string {
    return `${this.prefix}:runs`;
  }
  private inputsKey(runId: string): string {
    return `${this.prefix}:run:${runId}:inputs`;
  }

  /**
   * Keeps chunks' input URIs as given, for chunks where redaction changes a URI (presigned queries, user-info):
   * shards hold only redacted URIs, and `retry-failed` needs the originals to fetch again. Kept until the run
   * finalises with the chunk clean (see {@link dropChunkInputs}).
   */
  async keepChunkInputs(runId: string, chunks: ReadonlyMap<number, readonly string[]>): Promise<void> {
    if (chunks.size === 0) return;
    const fields = Object.fromEntries(
      [...chunks].map(([index, uris]) => [String(index), JSON.stringify(uris)]),
    );
    await this.redis.hset(this.inputsKey(runId), fields);
  }

  /** The kept original URIs of these chunks (see {@link keepChunkInputs}); chunks without any are left out. */
  async chunkInputs(runId: string, chunkIndexes: readonly number[]): Promise<Map<number, string[]>> {
    const found = new Map<number, string[]>();
    if (chunkIndexes.length === 0) return found;
    const values = await this.redis.hmget(this.inputsKey(runId), ...chunkIndexes.map(String));
    values.forEach((value, i) => {
      if (value !== null) found.set(chunkIndexes[i]!, JSON.parse(value) as string[]);
    });
    return found;
  }

  /** Forgets the kept original URIs of these chunks. */
  async dropChunkInputs(runId: string, chunkIndexes: readonly number[]): Promise<void> {
    if (chunkIndexes.length === 0) return;
    await this.redis.hdel(this.inputsKey(runId), ...chunkIndexes.map(String));
  }

  /**
   * Creates the run, or returns the stored spec when it exists and agrees on everything that shapes outputs.
   */
  async createOrResume(spec: RunSpec): Promise<{ created: boolean; spec: RunSpec }> {
    const created = await this.redis.hsetnx(this.runKey(spec.runId), 'spec', JSON.stringify(spec));
    if (created === 1) {
      await this.redis
        .multi()
        .hset(this.runKey(spec.runId), 'state', 'enqueuing', 'createdAt', spec.createdAt)
        .zadd(this.runsKey(), Date.parse(spec.createdAt), spec.runId)
        .exec();
      return { created: true, spec };
    }
    const stored = await this.getSpec(spec.runId);
    if (!stored) throw new Error(`Run ${spec.runId} vanished while being created`);
    for (const field of ['model', 'preprocess', 'input', 'output', 'chunkSize'] as const) {
      if (stableJson(stored[field]) !== stableJson(spec[field]))
        throw new RunError(
          'RUN_CONFLICT',
          { runId: spec.runId, field },
          `Run ${spec.runId} already exists with a different ${field}; resume it with the same options or choose another --run id`,
        );
    }
    return { created: false, spec: stored };
  }

  async getSpec(runId: string): Promise<RunSpec | null> {
    const raw = await this.redis.hget(this.runKey(runId), 'spec');
    return raw ? parseSpec(raw) : null;
  }

  async getState(runId: string): Promise<RunState | null> {
    return (await this.redis.hget(this.runKey(runId), 'state')) as RunState | null;
  }

  /** Called by the producer once all chunks are enqueued; from then on the run can finalise. */
  async markEnqueued(runId: string, totalChunks: number, totalInputs: number, tarShards = 0): Promise<void> {
    const state = await this.getState(runId);
    if (state === 'cancelled') return;
    const fields: (string | number)[] = [
      'totalChunks',
      totalChunks,
      'totalInputs',
      totalInputs,
      'tarShards',
      tarShards,
    ];
    // A resumed run that was finalised before stays finalised only if nothing new appeared.
    if (state === 'enqueuing' || state === null) fields.push('state', 'running');
    await this.redis.hset(this.runKey(runId), ...fields);
  }

  /** Re-opens a finalised run (for retry-failed): it will finalise again when its chunks are committed. */
  async reopen(runId: string): Promise<void> {
    await this.redis.hset(this.runKey(runId), 'state', 'running');
    await this.redis.hdel(this.runKey(runId), 'manifestWrittenAt');
  }

  /** Notes why the run's model could not be loaded (null: it loaded, so an earlier note is stale). */
  async noteModelError(runId: string, note: ModelErrorNote | null): Promise<void> {
    if (note === null) await this.redis.hdel(this.runKey(runId), 'modelError');
    else await this.redis.hset(this.runKey(runId), 'modelError', JSON.stringify(note));
  }

  async cancel(runId: string): Promise<void> {
    await this.redis.hset(this.runKey(runId), 'state', 'cancelled');
  }

  async recordChunk(runId: string, record: ChunkRecord): Promise<void> {
    await this.redis.hset(this.chunksKey(runId), String(record.chunkIndex), JSON.stringify(record));
  }

  async removeChunkRecords(runId: string, chunkIndexes: readonly number[]): Promise<void> {
    if (chunkIndexes.length === 0) return;
    await this.redis.hdel(this.chunksKey(runId), ...chunkIndexes.map(String));
  }

  async hasChunk(runId: string, chunkIndex: number): Promise<boolean> {
    return (await this.redis.hexists(this.chunksKey(runId), String(chunkIndex))) === 1;
  }

  async committedChunkIndexes(runId: string): Promise<Set<number>> {
    const fields = await this.redis.hkeys(this.chunksKey(runId));
    return new Set(fields.map(Number));
  }

  async getChunkRecords(runId: string): Promise<ChunkRecord[]> {
    const all = await this.redis.hvals(this.chunksKey(runId));
    return all.map((raw) => JSON.parse(raw) as ChunkRecord).sort((a, b) => a.chunkIndex - b.chunkIndex);
  }

  /**
   * The first worker to load a run's model records its binding; later workers must load the same weights and decode
   * with the same preprocessing, so a run never mixes two models or two preprocessing pipelines (workers of another
   * version resolve preprocessing differently). Returns what the run is bound to: the weights hash and the resolved
   * preprocessing as JSON.
   */
  async bindModel(runId: string, binding: RunModelBinding): Promise<BoundModel> {
    const key = this.runKey(runId);
    const mine: BoundModel = {
      weightsSha256: binding.identity.weightsSha256,
      preprocessing: JSON.stringify(binding.preprocessing),
    };
    const results = await this.redis
      .multi()
      .hsetnx(key, 'modelSha256', mine.weightsSha256)
      .hsetnx(key, 'modelPreprocessing', mine.preprocessing)
      .hget(key, 'modelSha256')
      .hget(key, 'modelPreprocessing')
      .exec();
    const bound: BoundModel = {
      weightsSha256: (results?.[2]?.[1] as string | null | undefined) ?? mine.weightsSha256,
      preprocessing: (results?.[3]?.[1] as string | null | undefined) ?? mine.preprocessing,
    };
    if (bound.weightsSha256 === mine.weightsSha256 && bound.preprocessing === mine.preprocessing) {
      await this.redis.hsetnx(key, 'modelIdentity', JSON.stringify(binding));
    }
    return bound;
  }

  /** The model binding recorded by the first worker, for the manifest; null before any worker loaded the model. */
  async getModelBinding(runId: string): Promise<RunModelBinding | null> {
    const raw = await this.redis.hget(this.runKey(runId), 'modelIdentity');
    return raw ? parseModelBinding(raw) : null;
  }

  /** True for exactly one caller at a time once every chunk is committed; see BEGIN_FINALIZE. */
  async tryBeginFinalize(runId: string, owner: string, lockTtlMs = 120_000): Promise<boolean> {
    const result = await this.redis.eval(
      BEGIN_FINALIZE,
      3,
      this.runKey(runId),
      this.chunksKey(runId),
      this.lockKey(runId),
      owner,
      String(lockTtlMs),
    );
    return result === 1;
  }

  async markFinalized(runId: string): Promise<void> {
    await this.redis
      .multi()
      .hset(this.runKey(runId), 'state', 'finalized', 'manifestWrittenAt', new Date().toISOString())
      .del(this.lockKey(runId))
      .exec();
  }

  async releaseFinalize(runId: string): Promise<void> {
    await this.redis.multi().hset(this.runKey(runId), 'state', 'running').del(this.lockKey(runId)).exec();
  }

  async status(runId: string): Promise<RunStatus | null> {
    const hash = await this.redis.hgetall(this.runKey(runId));
    if (!hash.spec) return null;
    const records = await this.getChunkRecords(runId);
    let rows = 0;
    let ok = 0;
    let error = 0;
    for (const r of records) {
      rows += r.rows;
      ok += r.ok;
      error += r.error;
    }
    return {
      spec: parseSpec(hash.spec),
      state: (hash.state ?? 'enqueuing') as RunState,
      totalChunks: hash.totalChunks ? Number(hash.totalChunks) : null,
      totalInputs: hash.totalInputs ? Number(hash.totalInputs) : null,
      tarShards: hash.tarShards ? Number(hash.tarShards) : hash.totalInputs ? 0 : null,
      committedChunks: records.length,
      rows,
      ok,
      error,
      modelSha256: hash.modelSha256 ?? null,
      manifestWrittenAt: hash.manifestWrittenAt ?? null,
      records,
      modelError: hash.modelError ? (JSON.parse(hash.modelError) as ModelErrorNote) : null,
    };
  }
}

/** A stored spec; runs submitted before input options existed read as reading their sources by extension. */
function parseSpec(raw: string): RunSpec {
  const spec = JSON.parse(raw) as RunSpec;
  spec.input ??= { keepCols: [] };
  return spec;
}

function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : v,
  );
}
