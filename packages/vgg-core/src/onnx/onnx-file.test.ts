import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveVggConfig } from '../model-config.js';
import { randomStateDict } from '../testing/random-state-dict.js';
import { inspectOnnxFile, readUserOnnxFile } from './onnx-file.js';
import { buildVggOnnx } from './onnx-graph.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vgg-onnx-file-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Length-delimited protobuf field with a 5-byte length, for payloads of any size. */
function fieldHeader(number: number, length: number): Uint8Array {
  const out = [number * 8 + 2];
  let v = length;
  for (let i = 0; i < 4; i += 1) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}

describe('ONNX files from users, decoded in a bounded worker thread', () => {
  it('reads the signature and the sha256 of a classifier file', async () => {
    const config = resolveVggConfig('[4,M]', {
      inputSize: 8,
      poolSize: 1,
      classifierWidth: 4,
      numClasses: 3,
    });
    const path = join(dir, 'small.onnx');
    await writeFile(
      path,
      buildVggOnnx(config, {
        weights: { kind: 'inline', tensors: randomStateDict(config, 1) },
        outputs: ['logits'],
      }),
    );
    const { sha256, signature } = await readUserOnnxFile(path);
    expect(sha256).toBe(
      createHash('sha256')
        .update(await readFile(path))
        .digest('hex'),
    );
    expect(signature).toEqual({
      inputName: 'input',
      inputSize: 8,
      fixedBatchSize: null,
      outputName: 'logits',
      numClasses: 3,
    });
  });

  it('turns unreadable, garbage and truncated files into VGG_MODEL_FORMAT naming the file', async () => {
    const garbage = join(dir, 'garbage.onnx');
    await writeFile(garbage, Buffer.from('\x89PNG\r\n\x1a\n this is an image, not a model'));
    await expect(readUserOnnxFile(garbage)).rejects.toMatchObject({
      code: 'VGG_MODEL_FORMAT',
      message: expect.stringContaining(`Cannot parse ONNX file ${garbage}`),
    });
    await expect(inspectOnnxFile(garbage)).rejects.toMatchObject({ code: 'VGG_MODEL_FORMAT' });
    await expect(readUserOnnxFile(join(dir, 'absent.onnx'))).rejects.toMatchObject({
      code: 'VGG_MODEL_FORMAT',
      message: expect.stringMatching(/Cannot read ONNX file .*absent.onnx/),
    });
  });

  it('stops a file whose tiny fields would exhaust memory with VGG_MODEL_FORMAT, not a crash', async () => {
    // One initializer whose packed `dims` hold 3 million one-byte varints: 3 MB on disk, but each becomes a
    // bigint on the JS heap (~100 MB), well past the 16 MiB this test allows the decoder.
    const count = 3_000_000;
    const dims = new Uint8Array(count).fill(1);
    const tensorHeader = fieldHeader(1, count);
    const graphHeader = fieldHeader(5, tensorHeader.length + count);
    const modelHeader = fieldHeader(7, graphHeader.length + tensorHeader.length + count);
    const path = join(dir, 'bomb.onnx');
    await writeFile(
      path,
      Buffer.concat([Uint8Array.from([0x08, 0x08]), modelHeader, graphHeader, tensorHeader, dims]),
    );
    await expect(readUserOnnxFile(path, {}, { maxHeapMb: 16 })).rejects.toMatchObject({
      code: 'VGG_MODEL_FORMAT',
      message: expect.stringMatching(/needs more than 16 MiB/),
    });
  });
});
