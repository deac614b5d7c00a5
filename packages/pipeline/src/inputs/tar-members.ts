import { extract as tarExtract } from 'tar-stream';

import { decompressed } from './decompress.js';

/** One file member of a tar shard, read in order. */
export interface TarMember {
  /** Its path in the archive, e.g. `000012.jpg` or `part/000012.seg.png`. */
  name: string;
  /** WebDataset's `__key__`: the path up to the first `.` of its last segment (`part/000012`). */
  key: string;
  /** WebDataset's extension: what follows that dot (`seg.png`), lowercase; '' when there is none. */
  extension: string;
  /** Its bytes, or null when it is larger than the limit (it is skipped, never held). */
  bytes: Uint8Array | null;
  /** Its declared size in bytes. */
  size: number;
}

/**
 * Why a tar shard could not be read to its end: `corrupt` (a header fails its checksum or is not a tar header) or
 * `truncated` (the data ends inside a member or a header). `member` is the file member being read when it
 * happened, if any; `membersRead` how many complete members came before.
 */
export class TarReadError extends Error {
  constructor(
    readonly reason: 'corrupt' | 'truncated',
    readonly member: string | null,
    readonly membersRead: number,
    options: { cause?: unknown } = {},
  ) {
    super(
      `tar shard ${reason} ${member === null ? `after ${membersRead} members` : `in member ${member}`}`,
      options,
    );
    this.name = 'TarReadError';
  }
}

/** Splits a member path as WebDataset does: key up to the first dot of the last segment, the rest its extension. */
export function webdatasetKey(name: string): { key: string; extension: string } {
  const slash = name.lastIndexOf('/');
  const dot = name.indexOf('.', slash + 1);
  if (dot <= slash + 1) return { key: name, extension: '' };
  return { key: name.slice(0, dot), extension: name.slice(dot + 1).toLowerCase() };
}

/**
 * Reads a tar shard's file members one by one from a byte stream (gzip or zstd decompressed by magic bytes), never
 * holding more than one member: the next is read only when the consumer asks for it, so the stream is paused
 * meanwhile. Members above `maxMemberBytes` are drained without being held. Directories, links and other
 * non-file entries are passed over. A corrupt or truncated archive throws {@link TarReadError} after the members
 * read before it; a failure of the byte stream itself (a FetchError) propagates as it is.
 */
export async function* tarMembers(
  bytes: AsyncIterable<Uint8Array>,
  options: { maxMemberBytes: number },
): AsyncGenerator<TarMember> {
  // allowUnknownFormat reads old V7 archives too; every header's checksum is still verified.
  const extract = tarExtract({ allowUnknownFormat: true } as Parameters<typeof tarExtract>[0]);
  let sourceError: unknown;
  let fed = false;
  const feeding = (async () => {
    try {
      for await (const chunk of decompressed(bytes)) {
        if (extract.destroyed) return;
        if (!extract.write(chunk)) {
          await new Promise<void>((resolve) => {
            const done = () => {
              extract.off('drain', done);
              extract.off('close', done);
              resolve();
            };
            extract.on('drain', done);
            extract.on('close', done);
          });
        }
      }
      fed = true;
      extract.end(undefined);
    } catch (error) {
      sourceError = error;
      extract.destroy(error as Error);
    }
  })();
  let membersRead = 0;
  let current: string | null = null;
  const failure = (cause: unknown): unknown => {
    if (sourceError !== undefined) return sourceError;
    const message = cause instanceof Error ? cause.message : String(cause);
    const reason = /Invalid tar header|Invalid header|Header exceeds/.test(message) ? 'corrupt' : 'truncated';
    return new TarReadError(reason, current, membersRead, { cause });
  };
  try {
    const entries = extract[Symbol.asyncIterator]();
    for (;;) {
      let next: Awaited<ReturnType<typeof entries.next>>;
      try {
        next = await entries.next();
      } catch (cause) {
        throw failure(cause);
      }
      if (next.done) break;
      const entry = next.value;
      const { header } = entry;
      if (header.type !== 'file' && header.type !== 'contiguous-file') {
        entry.resume();
        continue;
      }
      current = header.name;
      const size = header.size ?? 0;
      const parts: Uint8Array[] = [];
      try {
        for await (const chunk of entry as AsyncIterable<Uint8Array>)
          if (size <= options.maxMemberBytes) parts.push(chunk);
      } catch (cause) {
        throw failure(cause);
      }
      const { key, extension } = webdatasetKey(header.name);
      const body = size <= options.maxMemberBytes ? Buffer.concat(parts, size) : null;
      membersRead++;
      current = null;
      yield { name: header.name, key, extension, bytes: body, size };
    }
    if (sourceError !== undefined) throw sourceError;
    if (!fed) await feeding;
  } finally {
    extract.destroy();
    await feeding;
  }
}
