// Reading ONNX files that users supply: decoded and checked in a worker thread with a bounded heap, so that no
// file, however hostile, can crash or stall the process that asked.
import { basename } from 'node:path';
import { Worker } from 'node:worker_threads';
import { VggError } from '../errors.js';
import { LAYER_TABLE_NOTES, type LayerTable } from '../layer-table.js';
import { workerScript } from '../worker-script.js';
import type { OnnxFileAnswer, OnnxFileTask } from './onnx-file-protocol.js';
import type { UserOnnxExpectations, UserOnnxSignature } from './user-onnx.js';

/**
 * JS heap for decoding one file. Tensor data stay views of the file bytes (outside the heap); the heap holds the
 * graph's structure, which for real classifiers is a few MB.
 */
export const ONNX_DECODE_HEAP_MB = 512;

export interface OnnxFileOptions {
  /** JS heap limit of the decoding thread, in MiB. Default: {@link ONNX_DECODE_HEAP_MB}. */
  maxHeapMb?: number;
}

/** Decodes a user's ONNX classifier and checks its signature; also returns the sha256 of the file bytes. */
export async function readUserOnnxFile(
  path: string,
  expect: UserOnnxExpectations = {},
  options: OnnxFileOptions = {},
): Promise<{ sha256: string; signature: UserOnnxSignature }> {
  const answer = await runTask({ kind: 'signature', path, expect }, options);
  if (answer.kind !== 'signature')
    throw new Error(`Unexpected ${answer.kind} answer from the ONNX file worker`);
  return { sha256: answer.sha256, signature: answer.signature };
}

/** A layer table of an ONNX file by shape inference; H and W default to `inputSize` (224) when symbolic. */
export async function inspectOnnxFile(
  path: string,
  inputSize?: number,
  options: OnnxFileOptions = {},
): Promise<LayerTable> {
  const name = `onnx:${basename(path)}`;
  const answer = await runTask(
    { kind: 'inspect', path, name, notes: [...LAYER_TABLE_NOTES], inputSize },
    options,
  );
  if (answer.kind !== 'inspect')
    throw new Error(`Unexpected ${answer.kind} answer from the ONNX file worker`);
  return answer.table;
}

async function runTask(
  task: OnnxFileTask,
  options: OnnxFileOptions,
): Promise<Extract<OnnxFileAnswer, { ok: true }>> {
  const heapMb = options.maxHeapMb ?? ONNX_DECODE_HEAP_MB;
  const worker = new Worker(workerScript('./onnx-file-worker.js', import.meta.url), {
    workerData: task,
    resourceLimits: { maxOldGenerationSizeMb: heapMb },
  });
  const answer = await new Promise<OnnxFileAnswer>((resolve, reject) => {
    let settled = false;
    worker.once('message', (message: OnnxFileAnswer) => {
      settled = true;
      resolve(message);
    });
    worker.once('error', (error: Error & { code?: string }) => {
      settled = true;
      if (error.code === 'ERR_WORKER_OUT_OF_MEMORY') {
        reject(
          new VggError(
            'VGG_MODEL_FORMAT',
            `Cannot decode ONNX file ${task.path}: its graph structure needs more than ${heapMb} MiB ` +
              'of memory, far beyond any VGG classifier (tensor data should be raw_data or external data, not ' +
              'millions of separate values)',
            { cause: error },
          ),
        );
      } else {
        reject(
          new VggError('VGG_MODEL_FORMAT', `Cannot decode ONNX file ${task.path}: ${error.message}`, {
            cause: error,
          }),
        );
      }
    });
    worker.once('exit', (code) => {
      if (!settled) {
        reject(
          new VggError(
            'VGG_MODEL_FORMAT',
            `Cannot decode ONNX file ${task.path}: its worker exited with code ${code}`,
          ),
        );
      }
    });
  }).finally(() => worker.terminate());
  if (!answer.ok) throw new VggError(answer.code, answer.message);
  return answer;
}
