import type { Redis } from 'ioredis';
import { RunError } from '../errors.js';
import type { ChunkRecord } from './chunk-record.js';
import { parseModelBinding, type RunModelBinding } from './model-binding.js';
import { parseSpec, type RunSpec, type RunState, stableJson } from './run-spec.js';
import { BEGIN_FINALIZE, END_FINALIZE, FENCED_COMMIT, MARK_ENQUEUED, REOPEN } from './run-store-scripts.js';
import type {
  BoundModel,
  ChunkFence,
  CommitRefusal,
  ModelErrorNote,
  RunStatus,
  StuckChunk,
} from './run-store-types.js';

export interface RunStoreOptions {
  redis: Redis;
  /** Key prefix shared with BullMQ. Default `vgg`. */
  prefix?: string;
}

/**
 * Run state in Redis: the spec, chunk commit records and the finalisation lock. Chunk records are keyed by chunk
 * index, so a chunk committed twice is still recorded once.
 */
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
  private stuckKey(runId: string): string {
    return `${this.prefix}:run:${runId}:stuck`;
  }
  private listingKey(runId: string): string {
    return `${this.prefix}:run:${runId}:listing`;
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

  /** Called by the producer once all chunks are enqueued; from then on the run can finalise (MARK_ENQUEUED). */
  async markEnqueued(runId: string, totalChunks: number, totalInputs: number, tarShards = 0): Promise<void> {
    await this.redis.eval(
      MARK_ENQUEUED,
      1,
      this.runKey(runId),
      String(totalChunks),
      String(totalInputs),
      String(tarShards),
    );
  }

  /** Totals the producer recorded when it last finished enqueuing; null before that. */
  async getTotalChunks(runId: string): Promise<number | null> {
    const raw = await this.redis.hget(this.runKey(runId), 'totalChunks');
    return raw === null ? null : Number(raw);
  }

  /**
   * Re-opens a finalised run for retry-failed and removes the records of the chunks it re-enqueues, in one step
   * (REOPEN): it finalises again when those chunks are committed.
   */
  async reopen(runId: string, chunkIndexes: readonly number[] = []): Promise<void> {
    await this.redis.eval(
      REOPEN,
      3,
      this.runKey(runId),
      this.chunksKey(runId),
      this.lockKey(runId),
      ...chunkIndexes.map(String),
    );
  }

  /**
   * The fingerprints (chunkInputSha256) of the run's chunks as first enqueued, by chunk index; a resumed run's
   * listing must give the same.
   */
  async getListing(runId: string): Promise<Map<number, string>> {
    const all = await this.redis.hgetall(this.listingKey(runId));
    return new Map(Object.entries(all).map(([index, sha]) => [Number(index), sha]));
  }

  async addListing(runId: string, fingerprints: ReadonlyMap<number, string>): Promise<void> {
    if (fingerprints.size === 0) return;
    await this.redis.hset(this.listingKey(runId), Object.fromEntries(fingerprints));
  }

  /** Notes why the run's model could not be loaded (null: it loaded, so an earlier note is stale). */
  async noteModelError(runId: string, note: ModelErrorNote | null): Promise<void> {
    if (note === null) await this.redis.hdel(this.runKey(runId), 'modelError');
    else await this.redis.hset(this.runKey(runId), 'modelError', JSON.stringify(note));
  }

  async cancel(runId: string): Promise<void> {
    await this.redis.hset(this.runKey(runId), 'state', 'cancelled');
  }

  /** Records a chunk without a fence: the producer adopting the shard of a run it re-creates. */
  async recordChunk(runId: string, record: ChunkRecord): Promise<void> {
    await this.redis.hset(this.chunksKey(runId), String(record.chunkIndex), JSON.stringify(record));
    await this.redis.hdel(this.stuckKey(runId), String(record.chunkIndex));
  }

  /**
   * Whether `fence` may write chunk `chunkIndex` now (see FENCED_COMMIT); `failed` for failure rows. Checked before
   * the shard is written; {@link commitChunk} checks again atomically with the record.
   */
  async mayWriteChunk(
    runId: string,
    chunkIndex: number,
    fence: ChunkFence,
    failed: boolean,
  ): Promise<CommitRefusal | null> {
    return this.#fenced('check', runId, chunkIndex, fence, failed, '');
  }

  /** Records a committed chunk if `fence` still allows it; returns why not otherwise (nothing is written then). */
  async commitChunk(runId: string, record: ChunkRecord, fence: ChunkFence): Promise<CommitRefusal | null> {
    return this.#fenced(
      'record',
      runId,
      record.chunkIndex,
      fence,
      record.failed === true,
      JSON.stringify(record),
    );
  }

  async #fenced(
    mode: 'check' | 'record',
    runId: string,
    chunkIndex: number,
    fence: ChunkFence,
    failed: boolean,
    record: string,
  ): Promise<CommitRefusal | null> {
    const fenceKey =
      fence.kind === 'lock'
        ? fence.lockKey
        : fence.kind === 'failed-job'
          ? fence.failedKey
          : this.lockKey(runId);
    const holder = fence.kind === 'lock' ? fence.token : fence.kind === 'failed-job' ? fence.jobId : '';
    const result = await this.redis.eval(
      FENCED_COMMIT,
      4,
      this.runKey(runId),
      this.chunksKey(runId),
      fenceKey,
      this.stuckKey(runId),
      mode,
      String(chunkIndex),
      fence.kind,
      holder,
      failed ? '1' : '0',
      record,
    );
    return result === 'ok' ? null : (result as CommitRefusal);
  }

  /**
   * Notes a chunk that failed for good before its error rows are written, so that if writing them fails too the
   * run shows as stuck, with the reason, instead of running forever. Its record clears the note.
   */
  async markChunkStuck(runId: string, stuck: StuckChunk): Promise<void> {
    await this.redis.hset(this.stuckKey(runId), String(stuck.chunkIndex), JSON.stringify(stuck));
  }

  async getStuckChunks(runId: string): Promise<StuckChunk[]> {
    const all = await this.redis.hvals(this.stuckKey(runId));
    return all.map((raw) => JSON.parse(raw) as StuckChunk).sort((a, b) => a.chunkIndex - b.chunkIndex);
  }

  async clearStuck(runId: string, chunkIndexes: readonly number[]): Promise<void> {
    if (chunkIndexes.length === 0) return;
    await this.redis.hdel(this.stuckKey(runId), ...chunkIndexes.map(String));
  }

  async removeChunkRecords(runId: string, chunkIndexes: readonly number[]): Promise<void> {
    if (chunkIndexes.length === 0) return;
    await this.redis.hdel(this.chunksKey(runId), ...chunkIndexes.map(String));
  }

  async getChunkRecord(runId: string, chunkIndex: number): Promise<ChunkRecord | null> {
    const raw = await this.redis.hget(this.chunksKey(runId), String(chunkIndex));
    return raw === null ? null : (JSON.parse(raw) as ChunkRecord);
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

  /**
   * Marks the run finalised, if `owner` still holds the finalisation and the run was not re-opened meanwhile;
   * returns whether it did (END_FINALIZE).
   */
  async markFinalized(runId: string, owner: string): Promise<boolean> {
    const done = await this.redis.eval(
      END_FINALIZE,
      2,
      this.runKey(runId),
      this.lockKey(runId),
      owner,
      'done',
      new Date().toISOString(),
    );
    return done === 1;
  }

  /** Gives up a finalisation that failed: the run is running again, with the reason shown by status. */
  async releaseFinalize(runId: string, owner: string, reason: string): Promise<void> {
    await this.redis.eval(END_FINALIZE, 2, this.runKey(runId), this.lockKey(runId), owner, 'failed', reason);
  }

  async status(runId: string): Promise<RunStatus | null> {
    const hash = await this.redis.hgetall(this.runKey(runId));
    if (!hash.spec) return null;
    const records = await this.getChunkRecords(runId);
    const committed = new Set(records.map((r) => r.chunkIndex));
    const stuck = (await this.getStuckChunks(runId)).filter((c) => !committed.has(c.chunkIndex));
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
      finalizeError: hash.finalizeError ?? null,
      stuck,
      records,
      modelError: hash.modelError ? (JSON.parse(hash.modelError) as ModelErrorNote) : null,
    };
  }
}
