import { describe, expect, it } from 'vitest';
import { ROWS_PER_GROUP } from './parquet-table.js';
import { decodeSidecar, emptySidecar, encodeSidecar } from './sidecar.js';

function sidecarOf(n: number, firstId: number) {
  const rows = emptySidecar(firstId);
  for (let i = 0; i < n; i++) {
    rows.uri.push(`s3://b/img-${i}.jpg`);
    rows.sha256.push(i % 5 === 0 ? null : `h${i}`);
    rows.key.push(`shards/chunk-${String(Math.floor(i / 256)).padStart(6, '0')}.parquet`);
    rows.shard.push(Math.floor(i / 256));
    rows.row.push(i % 256);
  }
  return rows;
}

describe('sidecar', () => {
  it('round-trips every column, ids counting from the part’s first id', () => {
    const rows = sidecarOf(1_000, 5_000);
    const decoded = decodeSidecar(encodeSidecar(rows, { 'vgg.part': '3' }), 5_000, 'memory');
    expect(decoded).toHaveLength(1_000);
    decoded.forEach((row, i) => {
      expect(row).toEqual({
        id: 5_000 + i,
        uri: rows.uri[i],
        sha256: rows.sha256[i],
        key: rows.key[i],
        shard: rows.shard[i],
        row: rows.row[i],
      });
    });
  });

  it('decodes only the row groups that hold the ids asked for', () => {
    const n = 2 * ROWS_PER_GROUP + 1_000;
    const bytes = encodeSidecar(sidecarOf(n, 10), {});
    const wanted = [15, 2 * ROWS_PER_GROUP + 500];
    const decoded = decodeSidecar(bytes, 10, 'memory', wanted);
    // Groups 0 and 2, not group 1.
    expect(decoded).toHaveLength(ROWS_PER_GROUP + 1_000);
    const byId = new Map(decoded.map((r) => [r.id, r]));
    expect(byId.get(15)?.uri).toBe('s3://b/img-5.jpg');
    expect(byId.get(2 * ROWS_PER_GROUP + 500)?.uri).toBe(`s3://b/img-${2 * ROWS_PER_GROUP + 490}.jpg`);
    expect(byId.has(ROWS_PER_GROUP + 100)).toBe(false);
  });

  it('rejects a sidecar whose ids do not continue from the first id', () => {
    const bytes = encodeSidecar(sidecarOf(10, 0), {});
    expect(() => decodeSidecar(bytes, 3, 'x.parquet')).toThrow('Sidecar x.parquet has id 0 where 3 belongs');
  });
});
