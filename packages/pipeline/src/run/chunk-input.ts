import { createHash } from 'node:crypto';
import type { ImageEntry, ListInputOptions } from '../inputs/source-entry.js';
import type { ChunkJobData } from '../queue/chunk-jobs.js';
import { redactUri } from '../uri.js';

/**
 * The images of the chunk being filled at submit, with their keys and kept columns laid out as chunk jobs carry
 * them (parallel arrays, present only when some image has a key, or when the run keeps columns).
 */
export class ChunkBatch {
  readonly #keepCols: readonly string[];
  #uris: string[] = [];
  #keys: (string | null)[] = [];
  #cols: Record<string, (string | null)[]> = {};

  constructor(keepCols: readonly string[]) {
    this.#keepCols = keepCols;
    this.#reset();
  }

  get size(): number {
    return this.#uris.length;
  }

  add(entry: ImageEntry): void {
    this.#uris.push(entry.uri);
    this.#keys.push(entry.key);
    for (const name of this.#keepCols) this.#cols[name]?.push(entry.cols?.[name] ?? null);
  }

  /** The chunk's job data; the batch starts over empty. */
  take(runId: string, chunkIndex: number): ChunkJobData {
    const data: ChunkJobData = { runId, chunkIndex, uris: this.#uris };
    if (this.#keys.some((key) => key !== null)) data.keys = this.#keys;
    if (this.#keepCols.length > 0) data.cols = this.#cols;
    this.#reset();
    return data;
  }

  #reset(): void {
    this.#uris = [];
    this.#keys = [];
    this.#cols = Object.fromEntries(this.#keepCols.map((name) => [name, []]));
  }
}

/** The input of a chunk as its shard records it: the images of its rows, or the tar shard it streamed. */
export type ShardInput = ({ kind: 'images'; uris: string[] } | { kind: 'tar'; uri: string }) & {
  /** The chunk fingerprint the shard's metadata records; absent in shards written before fingerprints. */
  inputSha256?: string;
};

/** Shard file metadata naming the tar shard a chunk streamed (redacted like every URI in the outputs). */
export const TAR_METADATA_KEY = 'vgg.tar';

/** Shard file metadata holding the fingerprint of the chunk's input list (see {@link chunkInputSha256}). */
export const INPUTS_METADATA_KEY = 'vgg.inputs_sha256';

/**
 * The fingerprint of a chunk's inputs: sha256 over its kind and its URIs in order, each as the outputs show it
 * (redacted), so a listing re-signed with fresh presigned queries is the same listing, and a shard's URIs give
 * back its chunk's fingerprint. A resumed run compares it with what its chunks were first (see submitRun).
 * The run's other URI columns (`input.uriCols`: a pair run's `b` images) follow, each named, in row order; a run
 * without any hashes exactly as before they were added, so its chunks still match.
 */
export function chunkInputSha256(
  data: Pick<ChunkJobData, 'kind' | 'uris' | 'cols'>,
  input: Pick<ListInputOptions, 'uriCols'>,
): string {
  const hash = createHash('sha256');
  hash.update(data.kind === 'tar' ? 'tar\n' : 'images\n');
  for (const uri of data.uris) hash.update(`${JSON.stringify(redactUri(uri))}\n`);
  for (const name of input.uriCols ?? []) {
    hash.update(`column ${JSON.stringify(name)}\n`);
    const values = data.cols?.[name] ?? [];
    for (let i = 0; i < data.uris.length; i++) {
      const value = values[i] ?? null;
      hash.update(`${JSON.stringify(value === null ? null : redactUri(value))}\n`);
    }
  }
  return hash.digest('hex');
}

/** The value of {@link TAR_METADATA_KEY} for a chunk. */
export function tarMetadataOf(data: Pick<ChunkJobData, 'kind' | 'uris'>): Record<string, string> {
  return data.kind === 'tar' && data.uris[0] !== undefined
    ? { [TAR_METADATA_KEY]: redactUri(data.uris[0]) }
    : {};
}

/**
 * Whether an existing shard holds this chunk's rows, so a resumed run may adopt it: its recorded fingerprint is
 * the chunk's; for shards written before fingerprints, a tar chunk's shard names the same tar shard and an image
 * chunk's has one row per image.
 */
export function shardMatchesChunk(
  shard: { record: { readonly rows: number }; input: ShardInput },
  data: ChunkJobData,
  input: Pick<ListInputOptions, 'uriCols'>,
): boolean {
  if (shard.input.inputSha256 !== undefined) return shard.input.inputSha256 === chunkInputSha256(data, input);
  if (data.kind === 'tar')
    return shard.input.kind === 'tar' && shard.input.uri === redactUri(data.uris[0] ?? '');
  return shard.input.kind === 'images' && shard.record.rows === data.uris.length;
}
