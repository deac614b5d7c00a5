import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ImageDecodeError } from '../errors.js';
import { decodeImage, imageDecodeThreads } from '../preprocess-decode.js';
import { resolvePreprocessOptions } from '../preprocess-options.js';

const photo = new Uint8Array(
  readFileSync(new URL('../../test-fixtures/images/2569067123_aca715a2ee_o.jpg', import.meta.url)),
);
const options = resolvePreprocessOptions();

describe('decode pool', () => {
  it('keeps the calling event loop turning while a large photo is decoded and resampled', async () => {
    let turns = 0;
    let spinning = true;
    const spin = () => {
      turns += 1;
      if (spinning) setImmediate(spin);
    };
    setImmediate(spin);
    const image = await decodeImage(photo, options);
    spinning = false;
    expect(image.pixels).toHaveLength(224 * 224 * 3);
    // Decoding 6 MP takes a few hundred ms; had it run on this thread, the loop would have turned a handful of
    // times, not thousands.
    expect(turns).toBeGreaterThan(50);
  });

  it('leaves the caller its bytes (a copy is sent to the thread)', async () => {
    const bytes = photo.slice();
    await decodeImage(bytes, options);
    expect(bytes.byteLength).toBe(photo.byteLength);
    expect(bytes[100]).toBe(photo[100]);
  });

  it('runs with the number of threads it is given, and refuses nonsense', async () => {
    const before = imageDecodeThreads();
    try {
      expect(imageDecodeThreads(1)).toBe(1);
      const crops = await Promise.all([decodeImage(photo, options), decodeImage(photo, options)]);
      expect(crops[0]!.pixels).toEqual(crops[1]!.pixels);
      expect(() => imageDecodeThreads(0)).toThrow('Expected positive integer for threads but received 0');
    } finally {
      imageDecodeThreads(before);
    }
  });

  it('returns failures as ImageDecodeError with their reason and message', async () => {
    const cut = photo.subarray(0, photo.length / 2);
    const error = await decodeImage(cut, options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageDecodeError);
    expect(error).toMatchObject({
      reason: 'truncated',
      message: 'Cannot decode image: the JPEG data ends early (truncated file)',
    });
  });
});
