import { createHash, randomBytes } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { copyFile, link, realpath, rename, rm, stat } from 'node:fs/promises';

/** sha256 hex of a file's bytes, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 8 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function sha256Text(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Creates `path` through a temporary file and a rename, so a concurrent reader (another worker sharing the
 * cache) sees either nothing or the whole file.
 */
export async function writeAtomically<T>(path: string, write: (tmpPath: string) => Promise<T>): Promise<T> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const result = await write(tmp);
    await rename(tmp, path);
    return result;
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes `dest` a hard link to `src`, or a copy where hard links are impossible (another file system).
 * onnxruntime 1.30 refuses external data given by an absolute path, by "..", or through a symlink that leads
 * out of the model's directory, so the weights must appear as a regular file beside the graph.
 * Returns how the file got there.
 */
export async function linkOrCopy(src: string, dest: string): Promise<'linked' | 'copied' | 'reused'> {
  // link(2) does not follow symlinks: link the real file, not a symlink to it.
  const real = await realpath(src);
  const source = await stat(real);
  const current = await stat(dest).catch(() => null);
  if (current) {
    if (current.ino === source.ino && current.dev === source.dev) return 'reused';
    // A copy made earlier: the directory is keyed by the content hash, so a same-size lone file is that copy.
    if (current.nlink === 1 && current.size === source.size) return 'reused';
  }
  try {
    await writeAtomically(dest, (tmp) => link(real, tmp));
    return 'linked';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (!['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP', 'EACCES'].includes(code ?? '')) throw error;
  }
  await writeAtomically(dest, (tmp) => copyFile(real, tmp, constants.COPYFILE_FICLONE));
  return 'copied';
}
