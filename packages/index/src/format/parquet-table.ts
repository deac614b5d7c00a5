import {
  type Data,
  type DataType,
  Field,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  tableFromIPC,
  tableToIPC,
} from 'apache-arrow';
import {
  Compression,
  readParquet,
  WriterPropertiesBuilder,
  Table as WasmTable,
  writeParquet,
} from 'parquet-wasm';

/** One column of {@link writeParquetTable}. */
export interface ParquetColumn {
  name: string;
  data: Data<DataType>;
  nullable: boolean;
}

/** Rows per row group: a lookup of a few ids decodes one group, not a whole part's sidecar. */
export const ROWS_PER_GROUP = 65_536;

/** Writes columns of equal length as one zstd-compressed Parquet file, with key-value metadata. */
export function writeParquetTable(
  columns: readonly ParquetColumn[],
  metadata: Record<string, string>,
): Uint8Array {
  const fields = columns.map((c) => new Field(c.name, c.data.type, c.nullable));
  const length = columns[0]?.data.length ?? 0;
  const schema = new Schema(fields);
  const batch = new RecordBatch(
    schema,
    makeData({ type: new Struct(fields), length, nullCount: 0, children: columns.map((c) => c.data) }),
  );
  const properties = new WriterPropertiesBuilder()
    .setCompression(Compression.ZSTD)
    .setMaxRowGroupSize(ROWS_PER_GROUP)
    .setKeyValueMetadata(new Map(Object.entries(metadata)))
    .setCreatedBy('vgg-batch (parquet-wasm)')
    .build();
  return writeParquet(WasmTable.fromIPCStream(tableToIPC(new Table(schema, [batch]), 'stream')), properties);
}

/** Reads a Parquet file (optionally some columns, some row groups) as an Arrow table. */
export function readParquetTable(
  bytes: Uint8Array,
  options: { columns?: string[]; rowGroups?: number[] } = {},
): Table {
  return tableFromIPC(
    readParquet(bytes, {
      ...(options.columns ? { columns: options.columns } : {}),
      ...(options.rowGroups ? { rowGroups: options.rowGroups } : {}),
    }).intoIPCStream(),
  );
}
