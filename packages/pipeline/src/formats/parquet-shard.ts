import type * as Arrow from 'apache-arrow';
import type { Data, DataType, Utf8 } from 'apache-arrow';
import { invalidOption } from '../errors.js';
import { ROW_COLUMNS } from '../run/output-columns.js';
import { parquetLibs } from './parquet-libs.js';

/** One shard's rows, column by column; one row per input URI, in chunk order. */
export interface ShardColumns {
  uri: string[];
  /** Each row's key (WebDataset's `__key__`, a manifest's `--key-col`); default all null. */
  key?: (string | null)[];
  /** Columns kept from the inputs (`--keep-cols`), text, in order; default none. */
  kept?: { name: string; values: (string | null)[] }[];
  status: ('ok' | 'error')[];
  /** Reason code for error rows (e.g. `not_found`, `decode`), null for ok rows. */
  error: (string | null)[];
  width: (number | null)[];
  height: (number | null)[];
  sha256: (string | null)[];
  topK: {
    k: number;
    /** n*k class ids, row-major; entries of error rows are ignored. */
    classIds: Int32Array;
    /** n*k probabilities, row-major; entries of error rows are ignored. */
    probs: Float32Array;
    /** Class id -> label. */
    labels: readonly string[];
  };
  /** One `emb_<tap>` column each; `data` is n*dim row-major, float16 as raw IEEE half bits. Error rows ignored. */
  embeddings: { tap: string; dim: number; dtype: 'float32' | 'float16'; data: Float32Array | Uint16Array }[];
  /** Float32 columns of one value per row (a pair run's scores), after the embeddings; null for error rows. */
  scalars?: { name: string; values: Float32Array }[];
  /** File key-value metadata (model identity JSON, run id, …). */
  metadata: Record<string, string>;
}

/** Options of {@link encodeParquetShard}. */
export interface ParquetShardOptions {
  /** Page compression. Default `zstd`. */
  compression?: 'zstd' | 'snappy' | 'none';
}

const COMPRESSION = { zstd: 'ZSTD', snappy: 'SNAPPY', none: 'UNCOMPRESSED' } as const;

/**
 * Encodes a shard as Parquet, columns in the order of the run contract's ROW_COLUMNS: `uri`, `key`, the kept
 * columns, `status` (`ok`|`error`), `error`, `width`, `height`, `sha256`,
 * `top_k_class_ids` List<int32>, `top_k_labels` List<utf8>, `top_k_probs` List<float32>, and per tap
 * `emb_<tap>` FixedSizeList<float32|float16>[dim]. Error rows are null in every column but uri, status, error
 * (and sha256 when the bytes were fetched). Embedding columns are built over the caller's typed arrays without
 * copying; dictionary encoding is off (it only bloats float and hash columns).
 */
export async function encodeParquetShard(
  shard: ShardColumns,
  options: ParquetShardOptions = {},
): Promise<Uint8Array> {
  const compression = options.compression ?? 'zstd';
  if (!(compression in COMPRESSION)) {
    throw invalidOption('compression', "one of 'zstd', 'snappy', 'none'", compression);
  }
  const n = validateShard(shard);
  const { arrow, parquet } = await parquetLibs();
  const {
    Field,
    FixedSizeList,
    Float16,
    Float32,
    Int32,
    List,
    makeData,
    RecordBatch,
    Schema,
    Struct,
    Table,
    tableToIPC,
    Utf8: Utf8Type,
    vectorFromArray,
  } = arrow;
  const { WriterPropertiesBuilder, Table: WasmTable, writeParquet } = parquet;
  const ok = new Uint8Array((n + 7) >> 3);
  let okCount = 0;
  for (let row = 0; row < n; row++) {
    if (shard.status[row] === 'ok') {
      ok[row >> 3] = (ok[row >> 3] as number) | (1 << (row & 7));
      okCount++;
    }
  }
  const nullCount = n - okCount;
  const { k } = shard.topK;

  const fields: Arrow.Field[] = [];
  const columns: Data[] = [];
  const add = (name: string, data: Data, nullable: boolean) => {
    fields.push(new Field(name, data.type, nullable));
    columns.push(data);
  };
  add('uri', vectorFromArray(shard.uri, new Utf8Type()).data[0] as Data, false);
  add('key', vectorFromArray(shard.key ?? new Array(n).fill(null), new Utf8Type()).data[0] as Data, true);
  for (const column of shard.kept ?? []) {
    add(column.name, vectorFromArray(column.values, new Utf8Type()).data[0] as Data, true);
  }
  add('status', vectorFromArray(shard.status, new Utf8Type()).data[0] as Data, false);
  add('error', vectorFromArray(shard.error, new Utf8Type()).data[0] as Data, true);
  add('width', vectorFromArray(shard.width, new Int32()).data[0] as Data, true);
  add('height', vectorFromArray(shard.height, new Int32()).data[0] as Data, true);
  add('sha256', vectorFromArray(shard.sha256, new Utf8Type()).data[0] as Data, true);

  // Top-k lists hold only ok rows' values (a null list spans zero values), so the few bytes are compacted.
  const offsets = new Int32Array(n + 1);
  const classIds = new Int32Array(okCount * k);
  const probs = new Float32Array(okCount * k);
  const labels: string[] = new Array(okCount * k);
  let at = 0;
  for (let row = 0; row < n; row++) {
    if (shard.status[row] === 'ok') {
      for (let j = 0; j < k; j++) {
        const classId = shard.topK.classIds[row * k + j] as number;
        const label = shard.topK.labels[classId];
        if (label === undefined) {
          throw invalidOption(
            `topK.classIds[${row * k + j}]`,
            `class id below ${shard.topK.labels.length}`,
            classId,
          );
        }
        classIds[at] = classId;
        probs[at] = shard.topK.probs[row * k + j] as number;
        labels[at] = label;
        at++;
      }
    }
    offsets[row + 1] = at;
  }
  const list = <T extends DataType>(child: Data<T>) =>
    makeData({
      type: new List(new Field('item', child.type, false)),
      length: n,
      nullCount,
      nullBitmap: ok,
      valueOffsets: offsets,
      child,
    });
  add(
    'top_k_class_ids',
    list(makeData({ type: new Int32(), length: classIds.length, data: classIds })),
    true,
  );
  add('top_k_labels', list(vectorFromArray(labels, new Utf8Type()).data[0] as Data<Utf8>), true);
  add('top_k_probs', list(makeData({ type: new Float32(), length: probs.length, data: probs })), true);

  for (const embedding of shard.embeddings) {
    const child =
      embedding.dtype === 'float16'
        ? makeData({ type: new Float16(), length: n * embedding.dim, data: embedding.data as Uint16Array })
        : makeData({ type: new Float32(), length: n * embedding.dim, data: embedding.data as Float32Array });
    const column = makeData({
      type: new FixedSizeList(embedding.dim, new Field('item', child.type, false)),
      length: n,
      nullCount,
      nullBitmap: ok,
      child,
    });
    add(embeddingColumn(embedding.tap), column, true);
  }

  for (const scalar of shard.scalars ?? []) {
    add(
      scalar.name,
      makeData({ type: new Float32(), length: n, nullCount, nullBitmap: ok, data: scalar.values }),
      true,
    );
  }

  const schema = new Schema(fields);
  const batch = new RecordBatch(
    schema,
    makeData({ type: new Struct(fields), length: n, nullCount: 0, children: columns }),
  );
  const ipc = tableToIPC(new Table(schema, [batch]), 'stream');
  const properties = new WriterPropertiesBuilder()
    .setCompression(parquet.Compression[COMPRESSION[compression]])
    // Per-column dictionary switches are ignored by parquet-wasm; only the global one takes effect.
    .setDictionaryEnabled(false)
    .setKeyValueMetadata(new Map(Object.entries(shard.metadata)))
    .setCreatedBy('vgg-batch (parquet-wasm)')
    .build();
  return writeParquet(WasmTable.fromIPCStream(ipc), properties);
}

/** Row count from a Parquet file's footer, without decoding columns. */
export async function readParquetShardRowCount(bytes: Uint8Array): Promise<number> {
  const { ParquetFile } = (await parquetLibs()).parquet;
  const file = await ParquetFile.fromFile(new Blob([bytes]));
  try {
    const metadata = file.metadata();
    return metadata.fileMetadata().numRows();
  } finally {
    file.free();
  }
}

const TAP_NAME = /^[A-Za-z0-9_]+(:[A-Za-z0-9_]+)?$/;

/** The column of a tap: `emb_<tap>`, with a Gram tap's ':' as '_' (`gram:relu2_2` -> `emb_gram_relu2_2`). */
export function embeddingColumn(tap: string): string {
  return `emb_${tap.replace(':', '_')}`;
}

function validateShard(shard: ShardColumns): number {
  const n = shard.uri.length;
  const sameLength = (name: string, length: number, expected: number) => {
    if (length !== expected) throw invalidOption(`${name}.length`, `${expected} (one per row)`, length);
  };
  sameLength('status', shard.status.length, n);
  sameLength('error', shard.error.length, n);
  sameLength('width', shard.width.length, n);
  sameLength('height', shard.height.length, n);
  sameLength('sha256', shard.sha256.length, n);
  if (shard.key !== undefined) sameLength('key', shard.key.length, n);
  for (const [index, column] of (shard.kept ?? []).entries()) {
    sameLength(`kept[${index}].values`, column.values.length, n);
  }
  for (const [row, status] of shard.status.entries()) {
    if (status !== 'ok' && status !== 'error')
      throw invalidOption(`status[${row}]`, "'ok' or 'error'", status);
  }
  const { k } = shard.topK;
  if (!Number.isInteger(k) || k < 0) throw invalidOption('topK.k', 'non-negative integer', k);
  if (!(shard.topK.classIds instanceof Int32Array)) {
    throw invalidOption('topK.classIds', 'Int32Array', typeName(shard.topK.classIds));
  }
  if (!(shard.topK.probs instanceof Float32Array)) {
    throw invalidOption('topK.probs', 'Float32Array', typeName(shard.topK.probs));
  }
  sameLength('topK.classIds', shard.topK.classIds.length, n * k);
  sameLength('topK.probs', shard.topK.probs.length, n * k);
  const taps = new Set<string>();
  for (const [index, embedding] of shard.embeddings.entries()) {
    const name = `embeddings[${index}]`;
    if (typeof embedding.tap !== 'string' || !TAP_NAME.test(embedding.tap) || taps.has(embedding.tap)) {
      throw invalidOption(
        `${name}.tap`,
        'unique name of letters, digits and underscores (one prefix: allowed)',
        embedding.tap,
      );
    }
    taps.add(embedding.tap);
    if (!Number.isInteger(embedding.dim) || embedding.dim < 1) {
      throw invalidOption(`${name}.dim`, 'positive integer', embedding.dim);
    }
    if (embedding.dtype !== 'float32' && embedding.dtype !== 'float16') {
      throw invalidOption(`${name}.dtype`, "'float32' or 'float16'", embedding.dtype);
    }
    if (embedding.dtype === 'float32' && !(embedding.data instanceof Float32Array)) {
      throw invalidOption(`${name}.data`, 'Float32Array for dtype float32', typeName(embedding.data));
    }
    if (embedding.dtype === 'float16' && !(embedding.data instanceof Uint16Array)) {
      throw invalidOption(
        `${name}.data`,
        'Uint16Array of half-float bits for dtype float16',
        typeName(embedding.data),
      );
    }
    sameLength(`${name}.data`, embedding.data.length, n * embedding.dim);
  }
  const names = new Set(fields0(shard));
  for (const [index, scalar] of (shard.scalars ?? []).entries()) {
    if (typeof scalar.name !== 'string' || !TAP_NAME.test(scalar.name) || names.has(scalar.name)) {
      throw invalidOption(
        `scalars[${index}].name`,
        'unique column name of letters, digits and underscores',
        scalar.name,
      );
    }
    names.add(scalar.name);
    if (!(scalar.values instanceof Float32Array)) {
      throw invalidOption(`scalars[${index}].values`, 'Float32Array', typeName(scalar.values));
    }
    sameLength(`scalars[${index}].values`, scalar.values.length, n);
  }
  return n;
}

/** The names of the columns a shard has before its scalars: the run contract's, with the kept ones after `key`. */
function fields0(shard: ShardColumns): string[] {
  const [uri, key, ...outcome] = ROW_COLUMNS;
  return [
    uri,
    key,
    ...(shard.kept ?? []).map((column) => column.name),
    ...outcome,
    ...shard.embeddings.map((embedding) => embeddingColumn(embedding.tap)),
  ];
}

function typeName(value: unknown): string {
  return value === null || value === undefined ? String(value) : (value.constructor?.name ?? typeof value);
}
