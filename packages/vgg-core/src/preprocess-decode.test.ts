import { readdirSync, readFileSync } from 'node:fs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ImageDecodeError } from './errors.js';
import { decodeImage, resizedSize } from './preprocess-decode.js';
import { resolvePreprocessOptions } from './preprocess-options.js';

const fixtures = new URL('../test-fixtures/images/', import.meta.url);
const expectations = JSON.parse(readFileSync(new URL('expect.json', fixtures), 'utf8')) as Record<
  string,
  { outcome: 'ok' | 'error'; reasons?: string[]; note: string }
>;
const options = resolvePreprocessOptions();
const read = (name: string) => new Uint8Array(readFileSync(new URL(name, fixtures)));
const decode = (name: string) => decodeImage(read(name), options);

async function reasonOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    expect(error).toBeInstanceOf(ImageDecodeError);
    expect((error as ImageDecodeError).code).toBe('VGG_IMAGE_DECODE');
    return (error as ImageDecodeError).reason;
  }
}

/** Mean absolute difference of two equal-length byte arrays, in 0..255 levels. */
function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i += 1) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

function isGrey(pixels: Uint8Array): boolean {
  for (let p = 0; p < pixels.length; p += 3) {
    if (pixels[p] !== pixels[p + 1] || pixels[p] !== pixels[p + 2]) return false;
  }
  return true;
}

/** An encoded PNG whose pixel (x, y) is (x mod 256, y mod 256, 0). */
async function coordinatePng(width: number, height: number): Promise<Uint8Array> {
  const raw = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) raw.set([x % 256, y % 256, 0], (y * width + x) * 3);
  }
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

describe('decodeImage over the edge-case corpus', () => {
  const files = readdirSync(fixtures).filter((name) => !/\.(md|json)$/.test(name));

  it('has an expectation for every fixture file', () => {
    expect(files.sort()).toEqual(Object.keys(expectations).sort());
  });

  it.each(files)('%s decodes to its expected outcome', async (name) => {
    const expected = expectations[name]!;
    const outcome = await reasonOf(
      decode(name).then((image) => {
        expect(image.pixels).toHaveLength(224 * 224 * 3);
        expect(image.width).toBeGreaterThan(0);
        expect(image.height).toBeGreaterThan(0);
      }),
    );
    if (expected.outcome === 'ok') expect(outcome).toBe('ok');
    else expect(expected.reasons).toContain(outcome);
  });

  it('reports the original size after EXIF orientation', async () => {
    expect(await decode('Landscape_6.jpg')).toMatchObject({ width: 600, height: 450 });
    expect(await decode('Portrait_7.jpg')).toMatchObject({ width: 450, height: 600 });
    expect(await decode('2569067123_aca715a2ee_o.jpg')).toMatchObject({ width: 2725, height: 2225 });
  });

  it('turns all eight EXIF orientations into the same upright picture', async () => {
    // Landscape_1.jpg carries no ICC profile and the others do, so their stored values differ: they agree only
    // colour-managed (the fast pipeline); PIL, and so the torchvision pipeline, ignore profiles.
    const fast = resolvePreprocessOptions({ pipeline: 'fast' });
    const managed = (name: string) => decodeImage(read(name), fast).then((image) => image.pixels);
    expect(meanAbsDiff(await managed('Landscape_1.jpg'), await managed('Landscape_3.jpg'))).toBeLessThan(8);
    const landscape = await decode('Landscape_3.jpg');
    const portrait = await decode('Portrait_2.jpg');
    for (const name of ['Landscape_5.jpg', 'Landscape_6.jpg', 'Landscape_8.jpg']) {
      // Each file is a separate lossy JPEG encode, so they agree to within a few levels, not exactly.
      expect(meanAbsDiff((await decode(name)).pixels, landscape.pixels), name).toBeLessThan(8);
    }
    expect(meanAbsDiff((await decode('Portrait_7.jpg')).pixels, portrait.pixels)).toBeLessThan(8);
    // The metric does tell different pictures apart.
    expect(meanAbsDiff(landscape.pixels, portrait.pixels)).toBeGreaterThan(25);
    const flipped = new Uint8Array(landscape.pixels);
    for (let y = 0; y < 224; y += 1) {
      for (let x = 0; x < 224; x += 1) {
        flipped.set(
          landscape.pixels.subarray((y * 224 + x) * 3, (y * 224 + x) * 3 + 3),
          (y * 224 + 223 - x) * 3,
        );
      }
    }
    expect(meanAbsDiff(landscape.pixels, flipped)).toBeGreaterThan(25);
  });

  it('converts CMYK to colour RGB', async () => {
    expect(isGrey((await decode('Channel_digital_image_CMYK_color.jpg')).pixels)).toBe(false);
  });

  it('expands greyscale, 16-bit grey with alpha and bilevel inputs to three equal 8-bit channels', async () => {
    for (const name of ['concert.jpg', 'G31D.TIF', '16-bit-grey-alpha.png']) {
      const { pixels } = await decode(name);
      expect(isGrey(pixels), name).toBe(true);
      if (name !== '16-bit-grey-alpha.png') expect(new Set(pixels).size, name).toBeGreaterThan(1);
    }
  });

  it("drops alpha without compositing, as PIL convert('RGB') does", async () => {
    // with-alpha.png is one colour, (91, 0, 194) at alpha 168; full-transparent.png hides (71, 112, 76) at alpha 0.
    const { pixels } = await decode('with-alpha.png');
    expect(pixels.every((v, i) => v === [91, 0, 194][i % 3])).toBe(true);
    const hidden = (await decode('full-transparent.png')).pixels;
    expect(hidden.every((v, i) => v === [71, 112, 76][i % 3])).toBe(true);
  });

  it('drops alpha in the fast pipeline too, keeping the colours of transparent pixels', async () => {
    const fast = resolvePreprocessOptions({ pipeline: 'fast' });
    const { pixels } = await decodeImage(read('with-alpha.png'), fast);
    expect(pixels.every((v, i) => v === [91, 0, 194][i % 3])).toBe(true);
    const hidden = (await decodeImage(read('full-transparent.png'), fast)).pixels;
    expect(hidden.every((v, i) => v === [71, 112, 76][i % 3])).toBe(true);
  });

  it('converts CIELAB to sRGB colour', async () => {
    expect(isGrey((await decode('cielab-dagams.tiff')).pixels)).toBe(false);
  });
});

describe('decodeImage geometry', () => {
  it('resizes the shorter side with torchvision arithmetic', () => {
    expect(resizedSize(2725, 2225, 256)).toEqual({ width: 313, height: 256 });
    expect(resizedSize(13, 169, 256)).toEqual({ width: 256, height: 3328 });
    expect(resizedSize(450, 600, 256)).toEqual({ width: 256, height: 341 });
    expect(resizedSize(300, 300, 256)).toEqual({ width: 256, height: 256 });
  });

  it('centre-crops with Python round(), halves to even', async () => {
    // No resize happens for a 256-high image, so the crop's first pixel names its offset:
    // (301 - 224) / 2 = 38.5 -> 38, (303 - 224) / 2 = 39.5 -> 40, (256 - 224) / 2 = 16.
    for (const [width, left] of [
      [301, 38],
      [303, 40],
      [256, 16],
    ] as const) {
      const { pixels } = await decodeImage(await coordinatePng(width, 256), options);
      expect([pixels[0], pixels[1]], `width ${width}`).toEqual([left, 16]);
      expect(pixels[223 * 3], `width ${width}`).toBe((left + 223) % 256);
    }
  });

  it('honours a custom crop and resize', async () => {
    const small = resolvePreprocessOptions({ cropSize: 32, resizeSize: 40 });
    const image = await decodeImage(read('flowers.jpeg'), small);
    expect(image.pixels).toHaveLength(32 * 32 * 3);
  });

  it("decodes bytes in Node's Buffer pool or in sharp's memory and leaves the caller's bytes intact", async () => {
    const png = await sharp({ create: { width: 3, height: 2, channels: 3, background: '#204060' } })
      .png()
      .toBuffer();
    // A few hundred bytes: Buffer.from takes them from the shared pool; sharp's own buffer wraps native memory.
    const pooled = Buffer.from(png);
    expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.byteLength);
    for (const bytes of [pooled, png]) {
      const before = Buffer.from(bytes);
      const { pixels } = await decodeImage(bytes, options);
      expect([pixels[0], pixels[1], pixels[2]]).toEqual([0x20, 0x40, 0x60]);
      expect(Buffer.compare(bytes, before)).toBe(0);
    }
  });

  it('returns pixels in their own transferable ArrayBuffer', async () => {
    const { pixels } = await decode('320x240.jpg');
    expect(pixels.byteOffset).toBe(0);
    expect(pixels.buffer.byteLength).toBe(pixels.byteLength);
    const transferred = structuredClone(pixels, { transfer: [pixels.buffer] });
    expect(pixels.byteLength).toBe(0);
    expect(transferred).toHaveLength(224 * 224 * 3);
  });
});

describe('decodeImage failures', () => {
  it('refuses zero bytes as empty', async () => {
    expect(await reasonOf(decodeImage(new Uint8Array(0), options))).toBe('empty');
  });

  it('refuses a text file named .jpg as unsupported_format', async () => {
    const text = new TextEncoder().encode('This is not a JPEG, just a text file with a .jpg name.\n');
    expect(await reasonOf(decodeImage(text, options))).toBe('unsupported_format');
  });

  it('refuses files over maxBytes as too_large', async () => {
    const limited = resolvePreprocessOptions({ maxBytes: 1000 });
    expect(await reasonOf(decodeImage(read('320x240.jpg'), limited))).toBe('too_large');
  });

  it('refuses images over maxPixels as too_many_pixels', async () => {
    const limited = resolvePreprocessOptions({ maxPixels: 1_000_000 });
    expect(await reasonOf(decodeImage(read('flowers.jpeg'), limited))).toBe('too_many_pixels');
    expect(await reasonOf(decodeImage(read('320x240.jpg'), limited))).toBe('ok');
  });

  it('refuses SVG as unsupported_format when allowSvg is false', async () => {
    const noSvg = resolvePreprocessOptions({ allowSvg: false });
    expect(await reasonOf(decodeImage(read('circle.svg'), noSvg))).toBe('unsupported_format');
  });

  it('tells a truncated JPEG from a broken one', async () => {
    const whole = read('flowers.jpeg');
    expect(await reasonOf(decodeImage(whole.subarray(0, whole.length / 2), options))).toBe('truncated');
    expect(await reasonOf(decodeImage(whole.subarray(0, 200), options))).toMatch(/^(truncated|corrupt)$/);
  });

  it('refuses truncated GIF and WebP files', async () => {
    // libnsgif and libwebp check frame and chunk sizes while parsing the header, so a cut file may fail there and
    // count as corrupt; the corpus accepts either reason for truncated files.
    const png = await coordinatePng(300, 200);
    for (const format of ['gif', 'webp'] as const) {
      const whole = new Uint8Array(await sharp(png).toFormat(format).toBuffer());
      expect(await reasonOf(decodeImage(whole, options)), format).toBe('ok');
      const cut = whole.subarray(0, Math.floor(whole.length * 0.6));
      expect(await reasonOf(decodeImage(cut, options)), format).toMatch(/^(truncated|corrupt)$/);
    }
  });

  it('keeps each failure its own reason and message when many decodes run at once', async () => {
    // libvips' error text is process-wide; under concurrency it can describe another image.
    const names = [
      'flowers.jpeg',
      'truncated.jpg',
      'truncated.png',
      'corrupt-header.jpg',
      'relax.jp2',
      'with-alpha.png',
    ];
    const expected = ['ok', 'truncated', 'truncated', 'corrupt', 'unsupported_format', 'ok'];
    const rounds = await Promise.all(
      Array.from({ length: 6 }, () =>
        Promise.all(
          names.map((name) =>
            decode(name).then(
              () => 'ok',
              (error: ImageDecodeError) => `${error.reason}: ${error.message}`,
            ),
          ),
        ),
      ),
    );
    for (const outcomes of rounds) {
      expect(outcomes.map((outcome) => outcome.split(':')[0])).toEqual(expected);
      expect(outcomes[1]).toBe('truncated: Cannot decode image: the JPEG data ends early (truncated file)');
      expect(outcomes[2]).toBe('truncated: Cannot decode image: the PNG data ends early (truncated file)');
    }
  });
});
