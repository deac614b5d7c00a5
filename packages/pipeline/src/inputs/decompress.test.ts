import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { compressionOf, decompressed } from './decompress.js';

async function text(chunks: Uint8Array[]): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const chunk of decompressed(
    (async function* () {
      yield* chunks;
    })(),
  ))
    parts.push(chunk);
  return Buffer.concat(parts).toString('utf8');
}

/** Split into small pieces, so the magic bytes and frames straddle chunk boundaries. */
function pieces(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(bytes.subarray(at, at + size));
  return out;
}

// `printf 'a.jpg\nb.jpg\n' | zstd -c`, made with the zstd command-line tool 1.5.
const ZSTD_TWO_LINES = Buffer.from('KLUv/QRYYQAAYS5qcGcKYi5qcGcKLRl6OQ==', 'base64');

describe('decompressed', () => {
  it('passes plain bytes through, however they are chunked', async () => {
    expect(await text(pieces(Buffer.from('a.jpg\nb.jpg\n'), 1))).toBe('a.jpg\nb.jpg\n');
    expect(await text([])).toBe('');
    expect(await text([Buffer.from('ab')])).toBe('ab');
  });

  it('recognises gzip and zstd by their magic bytes', () => {
    expect(compressionOf(gzipSync('x'))).toBe('gzip');
    expect(compressionOf(ZSTD_TWO_LINES)).toBe('zstd');
    expect(compressionOf(Buffer.from('uri\n'))).toBe('none');
  });

  it('inflates gzip, including concatenated members, split across chunks', async () => {
    const body = Buffer.concat([gzipSync('a.jpg\n'), gzipSync('b.jpg\n')]);
    expect(await text(pieces(body, 3))).toBe('a.jpg\nb.jpg\n');
  });

  it('decompresses zstd from the reference tool, split across chunks', async () => {
    expect(await text(pieces(ZSTD_TWO_LINES, 2))).toBe('a.jpg\nb.jpg\n');
  });

  it('throws on a truncated gzip stream instead of ending quietly', async () => {
    const body = gzipSync('x'.repeat(10_000));
    await expect(text([body.subarray(0, body.length - 10)])).rejects.toThrow(/unexpected end of file/i);
  });

  it('throws on a truncated zstd stream', async () => {
    // fzstd (Node 20) says "unexpected EOF"; Node 22.15+'s native zstd says "unexpected end of file".
    await expect(text([ZSTD_TWO_LINES.subarray(0, ZSTD_TWO_LINES.length - 6)])).rejects.toThrow(
      /unexpected (EOF|end of file)/i,
    );
  });
});
