import { type Data, Int32, Int64, makeData, Utf8, vectorFromArray } from 'apache-arrow';
import { IndexError } from '../errors.js';
import { type ParquetColumn, ROWS_PER_GROUP, readParquetTable, writeParquetTable } from './parquet-table.js';

/**
 * One part's sidecar: for each id (index key) the row it came from. Columns: `id` int64, `uri` utf8, `sha256`
 * utf8 (of the input's bytes), `key` utf8 (the shard's key in the run, e.g. `shards/chunk-000003.parquet`),
 * `shard` int32 (its chunk index), `row` int32 (row in that shard). Ids are consecutive from the part's firstId.
 */
export interface SidecarRows {
  firstId: number;
  uri: string[];
  sha256: (string | null)[];
  key: string[];
  shard: number[];
  row: number[];
}

/** One row of a sidecar. */
export interface SidecarRow {
  id: number;
  uri: string;
  sha256: string | null;
  key: string;
  shard: number;
  row: number;
}

export function emptySidecar(firstId: number): SidecarRows {
  return { firstId, uri: [], sha256: [], key: [], shard: [], row: [] };
}

export function encodeSidecar(rows: SidecarRows, metadata: Record<string, string>): Uint8Array {
  const n = rows.uri.length;
  const ids = new BigInt64Array(n);
  for (let i = 0; i < n; i++) ids[i] = BigInt(rows.firstId + i);
  const columns: ParquetColumn[] = [
    { name: 'id', data: makeData({ type: new Int64(), length: n, data: ids }), nullable: false },
    { name: 'uri', data: vectorFromArray(rows.uri, new Utf8()).data[0] as Data, nullable: false },
    { name: 'sha256', data: vectorFromArray(rows.sha256, new Utf8()).data[0] as Data, nullable: true },
    { name: 'key', data: vectorFromArray(rows.key, new Utf8()).data[0] as Data, nullable: false },
    {
      name: 'shard',
      data: makeData({ type: new Int32(), length: n, data: Int32Array.from(rows.shard) }),
      nullable: false,
    },
    {
      name: 'row',
      data: makeData({ type: new Int32(), length: n, data: Int32Array.from(rows.row) }),
      nullable: false,
    },
  ];
  return writeParquetTable(columns, metadata);
}

/**
 * Decodes a sidecar, whole or only the row groups that hold `ids`, checking that ids run consecutively from
 * `firstId`. Returns rows in id order.
 */
export function decodeSidecar(
  bytes: Uint8Array,
  firstId: number,
  where: string,
  ids?: readonly number[],
): SidecarRow[] {
  const groups =
    ids === undefined
      ? undefined
      : [...new Set(ids.map((id) => Math.floor((id - firstId) / ROWS_PER_GROUP)))].sort((a, b) => a - b);
  let table: ReturnType<typeof readParquetTable>;
  try {
    table = readParquetTable(bytes, groups === undefined ? {} : { rowGroups: groups });
  } catch (cause) {
    throw new IndexError(
      'INDEX_FORMAT',
      `Sidecar ${where} is not readable Parquet: ${(cause as Error).message}`,
      {
        cause,
        uri: where,
      },
    );
  }
  const col = (name: string) => {
    const c = table.getChild(name);
    if (c === null)
      throw new IndexError('INDEX_FORMAT', `Sidecar ${where} lacks column ${name}`, { uri: where });
    return c;
  };
  const id = col('id');
  const uri = col('uri');
  const sha256 = col('sha256');
  const key = col('key');
  const shard = col('shard');
  const row = col('row');
  const out: SidecarRow[] = [];
  const starts = groups ?? [0];
  let expected = firstId + (starts[0] as number) * ROWS_PER_GROUP;
  let group = 0;
  for (let i = 0; i < table.numRows; i++) {
    const value = Number(id.get(i) as bigint);
    if (value !== expected) {
      // The next requested row group starts a new run of ids.
      const next = starts[group + 1];
      if (groups !== undefined && next !== undefined && value === firstId + next * ROWS_PER_GROUP) {
        group++;
        expected = value;
      } else {
        throw new IndexError('INDEX_FORMAT', `Sidecar ${where} has id ${value} where ${expected} belongs`, {
          uri: where,
        });
      }
    }
    out.push({
      id: value,
      uri: uri.get(i) as string,
      sha256: (sha256.get(i) as string | null) ?? null,
      key: key.get(i) as string,
      shard: shard.get(i) as number,
      row: row.get(i) as number,
    });
    expected++;
  }
  return out;
}
