import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  FetchError,
  type InputGuard,
  isRemoteUri,
  localPathOf,
  redactUri,
  type StreamInputOptions,
  streamInput,
} from 'vgg-pipeline';

export interface ModelFilesOptions {
  /** Directory where remote weights and ONNX files are cached. */
  cacheDir: string;
  s3: S3Client;
  /**
   * The worker's input guard: model files meet the same address policy as inputs (every redirect hop is checked on
   * the address connected to), and local model paths the same `--local-roots`.
   */
  guard: Pick<InputGuard, 'checkLocal' | 'dispatcher'>;
  /** Largest model file fetched, in bytes, enforced while streaming (`--max-model-bytes`). */
  maxBytes: number;
  /** HTTP(S): milliseconds until response headers arrive, per redirect hop. */
  connectTimeoutMs: number;
  /** Milliseconds the body may stall between two chunks. */
  readTimeoutMs: number;
  /** Tries in all, resuming with a Range request after a transient failure (5xx, reset, stall). */
  attempts: number;
  /** Waits before retry `attempt`. Default: as the server asks (Retry-After, at most 60 s), else exponential with full jitter. */
  backoff?: StreamInputOptions['backoff'];
}

/**
 * Fetches weights and ONNX files named by URI once per machine and keeps them on local disk under their content
 * hash. Fetches go through the inputs' guard and limits: the SSRF address policy and allowlist, a byte cap, connect
 * and stall timeouts, and a check of every redirect hop. Failures are Errors naming the file, with the
 * {@link FetchError} (reason, `transient`) as `cause`. The run's model hash (checked after loading) catches a remote
 * file that changed since the run started.
 */
export class ModelFiles {
  readonly #options: ModelFilesOptions;
  private readonly inFlight = new Map<string, Promise<string>>();

  constructor(options: ModelFilesOptions) {
    this.#options = options;
  }

  /** A local path for the model file at `uri`; a local path (or `file:` URL) must lie under `--local-roots`. */
  async localPath(uri: string): Promise<string> {
    if (!isRemoteUri(uri)) {
      try {
        const file = localPathOf(uri);
        await this.#options.guard.checkLocal(uri);
        return file;
      } catch (cause) {
        throw new Error(`Model file ${redactUri(uri)} cannot be used: ${(cause as Error).message}`, {
          cause,
        });
      }
    }
    let pending = this.inFlight.get(uri);
    if (!pending) {
      pending = this.download(uri).finally(() => this.inFlight.delete(uri));
      this.inFlight.set(uri, pending);
    }
    return pending;
  }

  private async download(uri: string): Promise<string> {
    // Files are stored under their content hash; a small pointer per URI finds them again without a download.
    const dir = path.join(this.#options.cacheDir, 'models');
    const pointer = path.join(dir, `uri-${createHash('sha256').update(uri).digest('hex').slice(0, 32)}.json`);
    const ext = extensionOf(uri);
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
      const hash = createHash('sha256');
      let bytes = 0;
      const { maxBytes } = this.#options;
      const body = this.#open(uri);
      async function* counted(): AsyncGenerator<Uint8Array> {
        for await (const chunk of body) {
          bytes += chunk.byteLength;
          // Stops reading (the generator's return cancels the request) as soon as the cap is passed.
          if (bytes > maxBytes) {
            throw new FetchError(
              'too_large',
              uri,
              `more than maxModelBytes ${maxBytes} bytes (--max-model-bytes)`,
            );
          }
          hash.update(chunk);
          yield chunk;
        }
      }
      await pipeline(Readable.from(counted()), createWriteStream(tmp));
      if (bytes === 0) throw new Error('the model file is empty');
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

  #open(uri: string): AsyncIterable<Uint8Array> {
    const o = this.#options;
    return streamInput(uri, {
      s3: o.s3,
      dispatcher: o.guard.dispatcher,
      connectTimeoutMs: o.connectTimeoutMs,
      readTimeoutMs: o.readTimeoutMs,
      attempts: o.attempts,
      backoff: o.backoff ?? modelBackoff,
    });
  }
}

function modelBackoff(attempt: number, error: FetchError): Promise<void> {
  const delayMs = Math.min(60_000, error.retryAfterMs ?? Math.random() * Math.min(5_000, 250 * 2 ** attempt));
  return new Promise((resolve) => setTimeout(resolve, delayMs));
}

/** The file extension of a model URI's path (`.safetensors`, `.onnx`), which decides how it is read. */
function extensionOf(uri: string): string {
  try {
    return path.posix.extname(new URL(uri.replace(/^s3:/i, 'http:')).pathname) || '.bin';
  } catch {
    return '.bin';
  }
}
