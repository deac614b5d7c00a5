import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { isIP } from 'node:net';
import { Agent, buildConnector } from 'undici';
import { FetchError, ForbiddenAddressError } from '../errors.js';
import { isRemoteUri } from '../uri.js';
import { localPathOf } from './fetch-local.js';
import { NetworkPolicy } from './network-policy.js';

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
    const connectVia = buildConnector({ lookup: policy.lookup });
    const refuse = (host: string, address: string) => new ForbiddenAddressError(host, address);
    this.dispatcher = new Agent({
      connect: (opts, callback) => {
        // Sockets skip DNS for IP literals (including decimal/hex/octal spellings, which URL parsing has already
        // turned into dotted form), so those are checked here; names are checked in the lookup.
        const host = opts.hostname.replace(/^\[|\]$/g, '');
        if (isIP(host) && !policy.isAllowed(host)) {
          callback(refuse(host, host), null);
          return;
        }
        connectVia(opts, (error, socket) => {
          // Defence in depth: the address actually connected to must pass too.
          const remote = socket?.remoteAddress;
          if (!error && socket && remote && !policy.isAllowed(remote, opts.hostname)) {
            socket.destroy();
            callback(refuse(opts.hostname, remote), null);
            return;
          }
          if (error) callback(error, null);
          else callback(null, socket!);
        });
      },
    });
    // Roots are compared by their real paths, so a root that is itself a symlink still works.
    this.roots = Promise.all(
      options.localRoots.map((root) => realpath(root).catch(() => path.resolve(root))),
    );
  }

  /**
   * Throws FetchError `forbidden` for a local input outside the roots (after `..` and symlinks), and `invalid_uri`
   * for a `file:` URI that names no local path (another host, an encoded `/`), so either is one error row.
   */
  async checkLocal(uri: string): Promise<void> {
    if (this.options.localRoots.length === 0) return;
    if (isRemoteUri(uri)) return;
    const file = localPathOf(uri);
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
