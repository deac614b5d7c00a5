import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';
import { FetchError, NetworkPolicy } from 'vgg-pipeline';

export interface InputGuardOptions {
  allowHosts: readonly string[];
  allowCidrs: readonly string[];
  /** Absolute directories local inputs must lie in; empty means no confinement. */
  localRoots: readonly string[];
}

/**
 * What a worker may read on behalf of a run: http(s) only through a dispatcher whose DNS lookup refuses internal
 * addresses (checked on the address connected to, for every redirect hop), local files only under the roots.
 */
export class InputGuard {
  readonly dispatcher: Agent;
  private readonly roots: Promise<string[]>;

  constructor(private readonly options: InputGuardOptions) {
    const policy = new NetworkPolicy({ allowHosts: options.allowHosts, allowCidrs: options.allowCidrs });
    this.dispatcher = new Agent({ connect: { lookup: policy.lookup } });
    // Roots are compared by their real paths, so a root that is itself a symlink still works.
    this.roots = Promise.all(options.localRoots.map((root) => realpath(root).catch(() => path.resolve(root))));
  }

  /** Throws FetchError `forbidden` for a local input outside the roots (after `..` and symlinks). */
  async checkLocal(uri: string): Promise<void> {
    if (this.options.localRoots.length === 0) return;
    if (/^(s3|https?):\/\//i.test(uri)) return;
    const file = uri.toLowerCase().startsWith('file://') ? fileURLToPath(uri) : path.resolve(uri);
    let real: string;
    try {
      real = await realpath(file);
    } catch {
      return; // missing files fail later as not_found
    }
    const roots = await this.roots;
    if (!roots.some((root) => real === root || real.startsWith(root + path.sep))) {
      throw new FetchError('forbidden', uri, 'local input lies outside the allowed roots (--local-roots)');
    }
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }
}
