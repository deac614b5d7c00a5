import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { isRemoteUri, parseS3Uri, redactUri, schemeOf } from 'vgg-pipeline';

export interface ModelFilesOptions {
  /** Directory where remote weights and ONNX files are cached. */
  cacheDir: string;
  s3: S3Client;
}

/**
 * Fetches weights and ONNX files named by URI once per machine and keeps them on local disk under their content
 * hash. The run's model hash (checked after loading) catches a remote file that changed since the run started.
 */
export class ModelFiles {
  private readonly cacheDir: string;
  private readonly s3: S3Client;
  private readonly inFlight = new Map<string, Promise<string>>();

  constructor(options: ModelFilesOptions) {
    this.cacheDir = options.cacheDir;
    this.s3 = options.s3;
  }

  /** A local path for the model file at `uri` (a local path is returned as is). */
  localPath(uri: string): Promise<string> {
    if (!isRemoteUri(uri)) return Promise.resolve(path.resolve(uri.replace(/^file:\/\//, '')));
    let pending = this.inFlight.get(uri);
    if (!pending) {
      pending = this.download(uri).finally(() => this.inFlight.delete(uri));
      this.inFlight.set(uri, pending);
    }
    return pending;
  }

  private async download(uri: string): Promise<string> {
    // Files are stored under their content hash; a small pointer per URI finds them again without a download.
    const dir = path.join(this.cacheDir, 'models');
    const pointer = path.join(dir, `uri-${createHash('sha256').update(uri).digest('hex').slice(0, 32)}.json`);
    const ext = path.extname(new URL(uri.replace(/^s3:/i, 'http:')).pathname) || '.bin';
    const known = await readFile(pointer, 'utf8')
      .then((text) => JSON.parse(text) as { sha256: string })
      .catch(() => null);
    if (known) {
      const cached = path.join(dir, `${known.sha256}${ext}`);
      if ((await stat(cached).catch(() => null))?.isFile()) return cached;
    }
    await mkdir(dir, { recursive: true });
    const tmp = path.join(dir, `.download-${process.pid}-${Date.now()}${ext}`);
    try {
      const body = await this.open(uri);
      const hash = createHash('sha256');
      let bytes = 0;
      const count = new Transform({
        transform(chunk: Buffer, _enc, done) {
          bytes += chunk.length;
          hash.update(chunk);
          done(null, chunk);
        },
      });
      await pipeline(body, count, createWriteStream(tmp));
      if (bytes === 0) throw new Error(`Model file ${redactUri(uri)} is empty`);
      const sha256 = hash.digest('hex');
      const target = path.join(dir, `${sha256}${ext}`);
      await rename(tmp, target);
      await writeFile(pointer, JSON.stringify({ uri: redactUri(uri), sha256, bytes }));
      return target;
    } catch (cause) {
      await rm(tmp, { force: true });
      throw new Error(`Could not download model file ${redactUri(uri)}: ${(cause as Error).message}`, {
        cause,
      });
    }
  }

  private async open(uri: string): Promise<Readable> {
    if (schemeOf(uri) === 's3') {
      const { bucket, key } = parseS3Uri(uri);
      const response = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (!response.Body) throw new Error('empty response body');
      return response.Body as Readable;
    }
    const response = await fetch(uri, { redirect: 'follow' });
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
    return Readable.fromWeb(response.body as import('node:stream/web').ReadableStream);
  }
}
