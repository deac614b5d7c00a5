// Entry of the worker thread that reads an untrusted ONNX file. Decoding runs here, under the heap limit that
// onnx-file.ts sets, so a hostile file (millions of tiny fields, each a JS object or bigint) can exhaust only this
// thread's heap, and a large file never blocks the caller's event loop.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { isVggError } from '../errors.js';
import type { OnnxFileAnswer, OnnxFileTask } from './onnx-file-protocol.js';
import { decodeOnnxModel } from './onnx-codec.js';
import { inspectOnnxGraph } from './onnx-inspect.js';
import { checkUserOnnx } from './user-onnx.js';

if (parentPort === null) throw new Error('onnx-file-worker.js runs only as a worker thread');
const task = workerData as OnnxFileTask;

function answer(): OnnxFileAnswer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(task.path);
  } catch (error) {
    return {
      ok: false,
      code: 'VGG_MODEL_FORMAT',
      message: `Cannot read ONNX file ${task.path}: ${(error as Error).message}`,
    };
  }
  try {
    const model = decodeOnnxModel(bytes, `ONNX file ${task.path}`);
    if (task.kind === 'inspect') {
      return {
        ok: true,
        kind: 'inspect',
        table: inspectOnnxGraph(model, task.name, task.notes, task.inputSize),
      };
    }
    const signature = checkUserOnnx(model, task.path, task.expect);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    return { ok: true, kind: 'signature', sha256, signature };
  } catch (error) {
    if (isVggError(error)) return { ok: false, code: error.code, message: error.message };
    return {
      ok: false,
      code: 'VGG_MODEL_FORMAT',
      message: `Cannot use ONNX file ${task.path}: ${String(error)}`,
    };
  }
}

parentPort.postMessage(answer());
