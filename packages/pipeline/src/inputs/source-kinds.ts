/**
 * File extensions treated as images when walking directories and prefixes. Deliberately broad: a file that
 * turns out not to decode becomes one error row, while a skipped image would silently vanish from the run.
 */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set([
  'jpg',
  'jpeg',
  'jpe',
  'jfif',
  'pjpeg',
  'pjp',
  'png',
  'apng',
  'webp',
  'gif',
  'tif',
  'tiff',
  'avif',
  'heic',
  'heif',
  'svg',
  'bmp',
  'dib',
  'jp2',
  'j2k',
  'jpf',
  'jpx',
  'jpm',
  'jxl',
  'ico',
  'pbm',
  'pgm',
  'ppm',
  'pnm',
  'pam',
  'hdr',
  'exr',
  'dng',
  'raw',
  'tga',
  'psd',
]);

/**
 * How a file source is read: a manifest (`lines` one URI per line, `csv`, `tsv`, `jsonl`, `parquet`) or a WebDataset
 * `tar` shard whose image members are the inputs. Text manifests may be gzip- or zstd-compressed.
 */
export type InputFormat = 'lines' | 'csv' | 'tsv' | 'jsonl' | 'parquet' | 'tar';

/** Every {@link InputFormat}, for flags and messages. */
export const INPUT_FORMATS: readonly InputFormat[] = ['lines', 'csv', 'tsv', 'jsonl', 'parquet', 'tar'];

/** A manifest format: every input format but `tar`. */
export type ManifestFormat = Exclude<InputFormat, 'tar'>;

const FORMATS_BY_EXTENSION: Readonly<Record<string, InputFormat>> = {
  txt: 'lines',
  lst: 'lines',
  csv: 'csv',
  tsv: 'tsv',
  tab: 'tsv',
  jsonl: 'jsonl',
  ndjson: 'jsonl',
  parquet: 'parquet',
  tar: 'tar',
  tgz: 'tar',
};

/** Suffixes of whole-file compression, recognised after the format's extension (`photos.tsv.gz`). */
const COMPRESSION_SUFFIXES = ['gz', 'zst', 'zstd'];

/** The file names each format is recognised by, for messages. */
export const FORMAT_NAMES =
  'manifests .txt/.lst (one URI per line), .csv, .tsv, .jsonl/.ndjson (each optionally .gz or .zst) and .parquet; ' +
  'WebDataset tar shards .tar, .tar.gz, .tgz';

/** What listSource accepts, for error messages. */
export const SOURCE_HELP =
  `expected a directory, an image file, ${FORMAT_NAMES}, brace ranges such as shards/{00000..00099}.tar, ` +
  's3://bucket/prefix/ or s3://bucket/<file>, an http(s):// URL, or - for stdin; ' +
  'name the format of a file with another extension with --input-format';

/** True when the name's extension is one of {@link IMAGE_EXTENSIONS} (case-insensitive). */
export function isImageName(name: string): boolean {
  return IMAGE_EXTENSIONS.has(extensionOf(name));
}

/**
 * The input format a file name implies (`a.tsv.gz` is `tsv`, `a.tar.gz` is `tar`), or undefined. Whole-file
 * compression is detected from the bytes when reading, so the suffix only has to be recognised here.
 */
export function inputFormatOf(name: string): InputFormat | undefined {
  const base = name.slice(name.lastIndexOf('/') + 1).toLowerCase();
  const parts = base.split('.');
  if (parts.length < 2 || parts[0] === '') return undefined;
  let extension = parts.pop() as string;
  if (COMPRESSION_SUFFIXES.includes(extension) && parts.length >= 2) extension = parts.pop() as string;
  return FORMATS_BY_EXTENSION[extension];
}

/** The manifest format a file name implies, or undefined (tar shards and images are not manifests). */
export function manifestFormatOf(name: string): ManifestFormat | undefined {
  const format = inputFormatOf(name);
  return format === 'tar' ? undefined : format;
}

/** True for a WebDataset shard name: `.tar`, `.tar.gz`, `.tgz` (also `.tar.zst`). */
export function isTarName(name: string): boolean {
  return inputFormatOf(name) === 'tar';
}

function extensionOf(name: string): string {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot <= 0 ? '' : base.slice(dot + 1).toLowerCase();
}
