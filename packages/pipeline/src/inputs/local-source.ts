import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { SourceError } from '../errors.js';
import { listFile } from './list-file.js';
import type { ListInputOptions, SourceEntry } from './source-entry.js';
import { inputFormatOf, isImageName, isTarName, SOURCE_HELP } from './source-kinds.js';

/**
 * Lists a local directory (walked: its images and tar shards, or with `--input-format` its files of that format,
 * each listed in turn) or a file (a manifest's entries, a tar shard, or an image itself).
 */
export async function* listLocal(
  source: string,
  file: string,
  signal: AbortSignal | undefined,
  options: ListInputOptions,
): AsyncGenerator<SourceEntry> {
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
  if (!info.isDirectory()) {
    yield* listFile(source, { kind: 'local', path: file }, file, options, signal);
    return;
  }
  const { format } = options;
  const wanted =
    format === undefined
      ? (name: string) => isImageName(name) || isTarName(name)
      : (name: string) => inputFormatOf(name) === format;
  for await (const found of walkDirectory(source, file, wanted, signal)) {
    yield* listFile(found, { kind: 'local', path: found }, found, options, signal);
  }
}

async function* walkDirectory(
  source: string,
  dir: string,
  wanted: (name: string) => boolean,
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
      yield* walkDirectory(source, full, wanted, signal);
    } else if (wanted(entry.name)) {
      if (entry.isFile()) {
        yield full;
      } else if (entry.isSymbolicLink()) {
        // A link to a file is kept; links to folders are never followed, so the walk cannot leave the tree or
        // loop.
        const target = await stat(full).catch(() => undefined);
        if (target?.isFile()) yield full;
      }
    }
  }
}
