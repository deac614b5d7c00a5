import { parentPort } from 'node:worker_threads';
import { encodeNpy, encodeParquetShard, type ShardColumns } from 'vgg-pipeline';

export type EncodeRequest =
  | { id: number; kind: 'parquet'; columns: ShardColumns }
  | {
      id: number;
      kind: 'npy';
      data: Float32Array | Uint16Array;
      shape: [number, number];
      dtype: 'float32' | 'float16';
    };

export type EncodeResponse = { id: number; bytes: Uint8Array } | { id: number; error: string };

parentPort?.on('message', async (request: EncodeRequest) => {
  try {
    const bytes =
      request.kind === 'parquet'
        ? await encodeParquetShard(request.columns)
        : encodeNpy(request.data, request.shape, request.dtype);
    parentPort?.postMessage({ id: request.id, bytes } satisfies EncodeResponse, [
      bytes.buffer as ArrayBuffer,
    ]);
  } catch (error) {
    parentPort?.postMessage({
      id: request.id,
      error: (error as Error).stack ?? String(error),
    } satisfies EncodeResponse);
  }
});
