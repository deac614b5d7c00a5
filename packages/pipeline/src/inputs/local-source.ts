import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { SourceError } from '../errors.js';
import { listLines } from './manifest-source.js';
import { isImageName, manifestFormatOf, SOURCE_HELP } from './source-kinds.js';

/** Lists a local directory (walked), a manifest file (its entries) or any other file (itself). */
export async function* listLocal(
  source: string,
  file: string,
  signal: AbortSignal | undefined,
): AsyncGenerator<string> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(file);
  } catch (cause) {
    const code = (cause as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new SourceError('SOURCE_NOT_FOUND', source, `${file} does not exist; ${SOURCE_HELP}`, { cause });
    }
    throw new SourceError('SOURCE_READ', source, `cannot access ${file} (${String(code)})`, { cause });
  }
  if (info.isDirectory()) {
    yield* walkDirectory(source, file, signal);
    return;
  }
  const format = manifestFormatOf(file);
  if (format === undefined) {
    yield file;
    return;
  }
  const stream = createReadStream(file);
  yield* listLines(source, stream, format, { kind: 'local', dir: path.dirname(file) }, signal);
}

async function* walkDirectory(
  source: string,
  dir: string,
  signal: AbortSignal | undefined,
): AsyncGenerator<string> {
  signal?.throwIfAborted();
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (cause) {
    const code = (cause as { code?: unknown }).code;
    throw new SourceError('SOURCE_READ', source, `cannot read directory ${dir} (${String(code)})`, { cause });
  }
  const sorted = entries
    .filter((entry) => !entry.name.startsWith('.'))
    .map((entry) => ({ entry, sortKey: Buffer.from(entry.isDirectory() ? `${entry.name}/` : entry.name) }))
    .sort((a, b) => Buffer.compare(a.sortKey, b.sortKey));
  for (const { entry } of sorted) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      yield* walkDirectory(source, full, signal);
    } else if (isImageName(entry.name)) {
      if (entry.isFile()) {
        yield full;
      } else if (entry.isSymbolicLink()) {
        // A link to an image file is kept; links to folders are never followed, so the walk cannot leave the
        // tree or loop.
        const target = await stat(full).catch(() => undefined);
        if (target?.isFile()) yield full;
      }
    }
  }
}
