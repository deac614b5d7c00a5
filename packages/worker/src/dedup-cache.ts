import type { RowResult } from './chunk-rows.js';

/** What decoding and inferring some bytes gave, without the input it came from. */
export type ImageOutcome = Omit<RowResult, 'uri' | 'key' | 'cols' | 'duplicate'>;

interface Entry {
  outcome: Promise<ImageOutcome>;
  bytes: number;
}

/**
 * Results by (run, sha256), so identical bytes met again in a run are decoded and inferred once: web datasets
 * hold the same image under many URLs. A second request for bytes still being inferred waits for the first.
 * Bounded by bytes (the result's arrays), least recently used first out; failures (a chunk aborted, an inference
 * error) are not kept. Within one worker: workers do not share results.
 */
export class DedupCache {
  readonly #maxBytes: number;
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;

  constructor(options: { maxBytes: number }) {
    this.#maxBytes = options.maxBytes;
  }

  /** Bytes of results held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The outcome for `sha256` in `scope`: computed once while held; `reused` when an earlier call computed it. */
  async share(
    scope: string,
    sha256: string,
    compute: () => Promise<ImageOutcome>,
  ): Promise<{ outcome: ImageOutcome; reused: boolean }> {
    if (this.#maxBytes <= 0) return { outcome: await compute(), reused: false };
    const id = `${scope}\0${sha256}`;
    const held = this.#entries.get(id);
    if (held !== undefined) {
      // Most recently used goes last.
      this.#entries.delete(id);
      this.#entries.set(id, held);
      return { outcome: await held.outcome, reused: true };
    }
    const entry: Entry = { outcome: compute(), bytes: 0 };
    this.#entries.set(id, entry);
    try {
      const outcome = await entry.outcome;
      if (this.#entries.get(id) === entry) {
        entry.bytes = sizeOf(outcome);
        this.#bytes += entry.bytes;
        this.#evict();
      }
      return { outcome, reused: false };
    } catch (error) {
      if (this.#entries.get(id) === entry) this.#entries.delete(id);
      throw error;
    }
  }

  #evict(): void {
    for (const [id, entry] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) return;
      this.#entries.delete(id);
      this.#bytes -= entry.bytes;
    }
  }
}

function sizeOf(outcome: ImageOutcome): number {
  let bytes = 256 + (outcome.classIds?.byteLength ?? 0) + (outcome.probs?.byteLength ?? 0);
  for (const values of Object.values(outcome.embeddings ?? {})) bytes += values.byteLength;
  return bytes;
}
