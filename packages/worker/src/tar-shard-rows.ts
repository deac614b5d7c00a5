import { createHash } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  cellText,
  type FetchError,
  type HostLimiter,
  type InputGuard,
  isImageName,
  isPipelineError,
  streamInput,
  TarReadError,
  tarMembers,
  webdatasetKey,
} from 'vgg-pipeline';
import type { ByteBudget } from './byte-budget.js';
import { errorRow, type RowResult } from './chunk-rows.js';
import { type ImageRequest, type ImageStages, INPUT_COPIES } from './image-stages.js';

/** Options of {@link TarShardRows}. */
export interface TarShardRowsOptions {
  s3: S3Client;
  guard: Pick<InputGuard, 'checkLocal' | 'dispatcher'>;
  /** Members above this many bytes are error rows `too_large`, drained without being held. */
  maxInputBytes: number;
  connectTimeoutMs: number;
  readTimeoutMs: number;
  /** Tries to open the shard, and to resume it with a Range request after a transient failure mid-stream. */
  fetchAttempts: number;
  /** Members read but not yet inferred, per shard: with the member being read, what a shard holds in memory. */
  maxQueuedImages: number;
  /** Waits before retry `attempt`. Default: the server's Retry-After (429, 503) up to maxRetryAfterMs, else exponential backoff with full jitter. */
  backoff?: (attempt: number, error: FetchError) => Promise<void>;
  /** Per-host limits for http(s) shards: a shard holds one of its host's slots while it streams. */
  hosts?: HostLimiter;
  /** The longest Retry-After honoured, in ms. Default 60_000. */
  maxRetryAfterMs?: number;
  /** Bounds the member bytes read ahead (each held until decoded), with the worker's other inputs. Default: none. */
  budget?: ByteBudget;
}

/** The rows of one tar shard and what it held besides images. */
export interface TarShardResult {
  rows: RowResult[];
  /** File members that are not images (captions, JSON, anything else): not rows, counted. */
  skippedMembers: number;
}

/**
 * Turns a WebDataset tar shard into rows as it streams it, members one by one: each image member (by extension)
 * is one row, `uri` = `<shard>#<member>`, `key` = WebDataset's `__key__`, decoded and inferred like any input;
 * kept columns come from the sample's siblings (a member whose extension is the column's name, e.g. `txt`, else
 * the field of its `.json`), matched among consecutive members with the same key as WebDataset groups them.
 *
 * Nothing of a shard is lost: what cannot be read is an error row. A member cut short is `truncated` under its
 * own URI; an unreadable rest of the shard (a corrupt header, a cut inside another member, a stream that failed
 * after every retry) is one row under the shard's URI with the reason; a shard that cannot be opened, or holds no
 * image member, is one row under its URI (`not_found`, `forbidden`, ..., or `empty`).
 */
export class TarShardRows {
  readonly #stages: ImageStages;
  readonly #options: TarShardRowsOptions;

  constructor(stages: ImageStages, options: TarShardRowsOptions) {
    this.#stages = stages;
    this.#options = options;
  }

  run(shard: string, keepCols: readonly string[], request: ImageRequest): Promise<TarShardResult> {
    const task = () => this.#run(shard, keepCols, request);
    return this.#options.hosts ? this.#options.hosts.run(shard, task, request.signal) : task();
  }

  async #run(shard: string, keepCols: readonly string[], request: ImageRequest): Promise<TarShardResult> {
    const o = this.#options;
    const rows: RowResult[] = [];
    const keys: string[] = [];
    const cols: (Record<string, string | null> | null)[] = [];
    const gate = new Gate(o.maxQueuedImages);
    const work: Promise<void>[] = [];
    let failure: unknown;
    let skippedMembers = 0;
    let group: Sample | null = null;
    const close = () => {
      if (group !== null && keepCols.length > 0) {
        const sample = group;
        const values = Object.fromEntries(
          keepCols.map((name) => [name, sample.texts.get(name) ?? cellText(sample.json?.[name])]),
        );
        for (const row of sample.rows) cols[row] = values;
      }
      group = null;
    };
    let ending: RowResult | null = null;
    try {
      await o.guard.checkLocal(shard);
      const bytes = streamInput(shard, {
        s3: o.s3,
        connectTimeoutMs: o.connectTimeoutMs,
        readTimeoutMs: o.readTimeoutMs,
        dispatcher: o.guard.dispatcher,
        signal: request.signal,
        attempts: o.fetchAttempts,
        backoff:
          o.backoff ?? ((attempt, error) => politeBackoff(attempt, error, o.maxRetryAfterMs ?? 60_000)),
      });
      for await (const member of tarMembers(bytes, { maxMemberBytes: o.maxInputBytes })) {
        if (failure !== undefined) throw failure;
        if (group === null || group.key !== member.key) {
          close();
          group = { key: member.key, rows: [], texts: new Map(), json: null };
        }
        if (!isImageName(member.name)) {
          skippedMembers++;
          if (member.bytes !== null && keepCols.length > 0)
            readSibling(group, member.extension, member.bytes, keepCols);
          continue;
        }
        const index = rows.length;
        const uri = `${shard}#${member.name}`;
        rows.push(errorRow(uri, 'too_large'));
        keys.push(member.key);
        cols.push(null);
        group.rows.push(index);
        const data = member.bytes;
        if (data === null) continue;
        await gate.acquire();
        // Waiting here stops the shard's stream, so the members read ahead stay within the budget.
        const hold = await o.budget
          ?.acquire(INPUT_COPIES * data.byteLength, request.signal)
          .catch((error: unknown) => {
            gate.release();
            throw error;
          });
        const sha256 = createHash('sha256').update(data).digest('hex');
        work.push(
          this.#stages
            .fromBytes(uri, { bytes: data, sha256 }, request, hold)
            .then((row) => {
              rows[index] = row;
            })
            .catch((error: unknown) => {
              failure ??= error;
            })
            .finally(() => gate.release()),
        );
      }
    } catch (error) {
      if (request.signal.aborted) throw request.signal.reason;
      if (error === failure) throw error;
      if (error instanceof TarReadError && error.member !== null && isImageName(error.member)) {
        // The image member cut short is a row of its own.
        const { key } = webdatasetKey(error.member);
        if (group !== null && (group as Sample).key === key) (group as Sample).rows.push(rows.length);
        rows.push(errorRow(`${shard}#${error.member}`, error.reason));
        keys.push(key);
        cols.push(null);
      } else if (error instanceof TarReadError || isPipelineError(error, 'FETCH_FAILED')) {
        ending = errorRow(shard, error.reason);
      } else {
        throw error;
      }
    } finally {
      close();
      await Promise.all(work);
    }
    if (failure !== undefined) throw failure;
    const out: RowResult[] = rows.map((row, i) => ({ ...row, key: keys[i] ?? null, cols: cols[i] ?? null }));
    if (ending !== null) out.push(ending);
    if (out.length === 0) out.push(errorRow(shard, 'empty'));
    return { rows: out, skippedMembers };
  }
}

/** The siblings of one sample (consecutive members with one key) that kept columns may take. */
interface Sample {
  key: string;
  /** Indexes of its image rows. */
  rows: number[];
  /** Text members by extension (`txt`), for kept columns named like them. */
  texts: Map<string, string>;
  /** Its `.json` member, parsed. */
  json: Record<string, unknown> | null;
}

function readSibling(
  sample: Sample,
  extension: string,
  bytes: Uint8Array,
  keepCols: readonly string[],
): void {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  if (keepCols.includes(extension)) sample.texts.set(extension, text);
  if (extension === 'json') {
    try {
      const value: unknown = JSON.parse(text);
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        sample.json = value as Record<string, unknown>;
      }
    } catch {
      // A sibling that is not JSON leaves its fields null; the image is still a row.
    }
  }
}

/** At most `size` holders at once; acquire waits for a release. */
class Gate {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    this.#free = size;
  }

  acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}

/**
 * Waits as the server asked (Retry-After on 429 and 503), or fails at once when it asks for longer than
 * `maxRetryAfterMs`; otherwise exponential backoff with full jitter, as for single inputs.
 */
function politeBackoff(attempt: number, error: FetchError, maxRetryAfterMs: number): Promise<void> {
  if (error.retryAfterMs !== undefined && error.retryAfterMs > maxRetryAfterMs) return Promise.reject(error);
  const delayMs = error.retryAfterMs ?? Math.random() * Math.min(5_000, 250 * 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, delayMs));
}
