import { tableFromIPC } from 'apache-arrow';
import { ParquetFile, readParquet } from 'parquet-wasm';
import { describe, expect, it } from 'vitest';
import { encodeParquetShard, readParquetShardRowCount, type ShardColumns } from './parquet-shard.js';

function sampleShard(): ShardColumns {
  return {
    uri: ['/a.jpg', 'https://h/b.jpg', 's3://b/c.png'],
    status: ['ok', 'error', 'ok'],
    error: [null, 'not_found', null],
    width: [640, null, 32],
    height: [480, null, 16],
    sha256: ['aa', null, 'cc'],
    topK: {
      k: 2,
      classIds: Int32Array.from([2, 0, -1, -1, 1, 2]),
      probs: Float32Array.from([0.75, 0.25, 0, 0, 0.5, 0.125]),
      labels: ['tench', 'goldfish', 'great white shark'],
    },
    embeddings: [
      { tap: 'fc7', dim: 3, dtype: 'float32', data: Float32Array.from([1, 2, 3, 9, 9, 9, 4, 5, 6]) },
      {
        tap: 'pool5',
        dim: 2,
        dtype: 'float16',
        data: Uint16Array.from([0x3c00, 0x4000, 0, 0, 0xbc00, 0x3800]),
      },
    ],
    metadata: { 'vgg.model': '{"variant":"vgg16"}', 'vgg.run_id': 'r1' },
  };
}

function readBack(bytes: Uint8Array) {
  return tableFromIPC(readParquet(bytes).intoIPCStream());
}

describe('encodeParquetShard', () => {
  it('writes the documented columns and types', async () => {
    const table = readBack(await encodeParquetShard(sampleShard()));
    const types = Object.fromEntries(table.schema.fields.map((f) => [f.name, f.type]));
    expect(table.schema.fields.map((f) => f.name)).toEqual([
      'uri',
      'key',
      'status',
      'error',
      'width',
      'height',
      'sha256',
      'top_k_class_ids',
      'top_k_labels',
      'top_k_probs',
      'emb_fc7',
      'emb_pool5',
    ]);
    expect(Object.fromEntries(Object.entries(types).map(([name, type]) => [name, String(type)]))).toEqual({
      uri: 'Utf8',
      key: 'Utf8',
      status: 'Utf8',
      error: 'Utf8',
      width: 'Int32',
      height: 'Int32',
      sha256: 'Utf8',
      top_k_class_ids: 'List<Int32>',
      top_k_labels: 'List<Utf8>',
      top_k_probs: 'List<Float32>',
      emb_fc7: 'FixedSizeList[3]<Float32>',
      emb_pool5: 'FixedSizeList[2]<Float16>',
    });
    const nullable = Object.fromEntries(table.schema.fields.map((f) => [f.name, f.nullable]));
    expect(nullable).toMatchObject({ uri: false, status: false, error: true, width: true, emb_fc7: true });
  });

  it('stores values for ok rows and nulls for error rows', async () => {
    const table = readBack(await encodeParquetShard(sampleShard()));
    const rows = table.toArray().map((row) => row.toJSON());
    expect(rows[0]).toMatchObject({
      uri: '/a.jpg',
      status: 'ok',
      error: null,
      width: 640,
      height: 480,
      sha256: 'aa',
    });
    expect([...rows[0].top_k_class_ids]).toEqual([2, 0]);
    expect([...rows[0].top_k_labels]).toEqual(['great white shark', 'tench']);
    expect([...rows[0].top_k_probs]).toEqual([0.75, 0.25]);
    expect([...rows[0].emb_fc7]).toEqual([1, 2, 3]);
    expect(rows[1]).toMatchObject({
      uri: 'https://h/b.jpg',
      status: 'error',
      error: 'not_found',
      width: null,
      top_k_class_ids: null,
      top_k_labels: null,
      emb_fc7: null,
      emb_pool5: null,
    });
    expect([...rows[2].top_k_labels]).toEqual(['goldfish', 'great white shark']);
    expect([...rows[2].emb_fc7]).toEqual([4, 5, 6]);
    // float16 bits 0xbc00 = -1, 0x3800 = 0.5.
    expect([...rows[2].emb_pool5]).toEqual([-1, 0.5]);
  });

  it('writes the metadata as file key-value metadata and reports the row count from the footer', async () => {
    const bytes = await encodeParquetShard(sampleShard());
    const file = await ParquetFile.fromFile(new Blob([bytes]));
    const kv = file.metadata().fileMetadata().keyValueMetadata();
    expect(kv.get('vgg.model')).toBe('{"variant":"vgg16"}');
    expect(kv.get('vgg.run_id')).toBe('r1');
    file.free();
    expect(await readParquetShardRowCount(bytes)).toBe(3);
  });

  it('writes an empty shard and a shard of only error rows', async () => {
    const empty = await encodeParquetShard({
      ...sampleShard(),
      uri: [],
      status: [],
      error: [],
      width: [],
      height: [],
      sha256: [],
      topK: { k: 2, classIds: new Int32Array(0), probs: new Float32Array(0), labels: ['x'] },
      embeddings: [{ tap: 'fc7', dim: 3, dtype: 'float32', data: new Float32Array(0) }],
    });
    expect(readBack(empty).numRows).toBe(0);
  });

  it('validates column lengths, class ids and tap names', async () => {
    await expect(encodeParquetShard({ ...sampleShard(), width: [1] })).rejects.toThrow(
      'Expected 3 (one per row) for width.length but received 1',
    );
    const bad = sampleShard();
    bad.topK.classIds[0] = 7;
    await expect(encodeParquetShard(bad)).rejects.toThrow(
      'Expected class id below 3 for topK.classIds[0] but received 7',
    );
    const badTap = sampleShard();
    (badTap.embeddings[0] as { tap: string }).tap = 'features.30';
    await expect(encodeParquetShard(badTap)).rejects.toThrow(
      /for embeddings\[0\]\.tap but received "features\.30"/,
    );
    const badData = sampleShard();
    (badData.embeddings[0] as { data: Float32Array }).data = new Float32Array(8);
    await expect(encodeParquetShard(badData)).rejects.toThrow(
      'Expected 9 (one per row) for embeddings[0].data.length',
    );
  });

  it("refuses a scalar column named like one of the run contract's columns", async () => {
    const rows = sampleShard().uri.length;
    for (const name of ['status', 'top_k_probs', 'key']) {
      const shard = { ...sampleShard(), scalars: [{ name, values: new Float32Array(rows) }] };
      await expect(encodeParquetShard(shard)).rejects.toThrow(/unique column name/);
    }
    const fine = {
      ...sampleShard(),
      scalars: [{ name: 'perceptual_distance', values: new Float32Array(rows) }],
    };
    await expect(encodeParquetShard(fine)).resolves.toBeInstanceOf(Uint8Array);
  });
});
