import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { Decompress } from 'fzstd';

/** Whole-file compression, recognised by its magic bytes. */
export type Compression = 'gzip' | 'zstd' | 'none';

/** The compression that a file's first bytes announce: gzip `1f 8b`, zstd `28 b5 2f fd`. */
export function compressionOf(head: Uint8Array): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

// Node 22.15+ and 23.8+ decompress zstd natively; on Node 20 fzstd (pure JS) does it.
const nativeZstd = (zlib as { createZstdDecompress?: () => NodeJS.ReadWriteStream }).createZstdDecompress;

/**
 * The bytes of a stream, decompressed when they start with gzip or zstd magic and passed through otherwise, so a
 * `.tsv.gz`, a `.jsonl.zst` or a `.tar.gz` read the same as their plain forms whatever they are named. Streaming,
 * with the consumer's backpressure; a corrupt or truncated compressed stream throws.
 */
export async function* decompressed(
  chunks: AsyncIterable<Uint8Array> | NodeJS.ReadableStream,
): AsyncGenerator<Uint8Array> {
  const iterator = (chunks as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let headBytes = 0;
  let ended = false;
  while (headBytes < 4) {
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      break;
    }
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    head.push(chunk);
    headBytes += chunk.byteLength;
  }
  const first = Buffer.concat(head);
  async function* all(): AsyncGenerator<Uint8Array> {
    if (first.byteLength > 0) yield first;
    if (ended) return;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  const compression = compressionOf(first);
  if (compression === 'none') {
    yield* all();
    return;
  }
  if (compression === 'zstd' && nativeZstd === undefined) {
    yield* fzstdChunks(all());
    return;
  }
  const decoder =
    compression === 'gzip' ? zlib.createGunzip() : (nativeZstd as () => NodeJS.ReadWriteStream)();
  const source = Readable.from(all(), { objectMode: false });
  source.on('error', (error) => (decoder as unknown as Readable).destroy(error));
  source.pipe(decoder as unknown as NodeJS.WritableStream);
  try {
    for await (const chunk of decoder as unknown as AsyncIterable<Uint8Array>) yield chunk;
  } finally {
    source.destroy();
  }
}

async function* fzstdChunks(input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const out: Uint8Array[] = [];
  const decoder = new Decompress((chunk) => {
    out.push(chunk);
  });
  for await (const chunk of input) {
    decoder.push(chunk);
    yield* out.splice(0);
  }
  decoder.push(new Uint8Array(0), true);
  yield* out.splice(0);
}
