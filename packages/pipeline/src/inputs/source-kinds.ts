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

/** Manifest formats by extension: one URI per line, CSV with a `uri` column, or JSON lines with a `uri` field. */
export type ManifestFormat = 'lines' | 'csv' | 'jsonl';

const MANIFEST_FORMATS: Readonly<Record<string, ManifestFormat>> = {
  txt: 'lines',
  lst: 'lines',
  csv: 'csv',
  jsonl: 'jsonl',
  ndjson: 'jsonl',
};

/** What listSource accepts, for error messages. */
export const SOURCE_HELP =
  'expected a directory of images, an image file, a manifest (.txt, .lst, .csv, .jsonl, .ndjson), ' +
  's3://bucket/prefix/, s3://bucket/manifest.csv, an http(s):// URL, or - for stdin';

/** True when the name's extension is one of {@link IMAGE_EXTENSIONS} (case-insensitive). */
export function isImageName(name: string): boolean {
  return IMAGE_EXTENSIONS.has(extensionOf(name));
}

/** The manifest format a file name implies, or undefined. */
export function manifestFormatOf(name: string): ManifestFormat | undefined {
  return MANIFEST_FORMATS[extensionOf(name)];
}

function extensionOf(name: string): string {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot <= 0 ? '' : base.slice(dot + 1).toLowerCase();
}
