import { RedisRefusedError } from './errors.js';

/** Replies no reconnect can change: wrong credentials, none given, or a user without the commands BullMQ needs. */
const REFUSAL = /^(WRONGPASS|NOAUTH|NOPERM)\b/;

/** What {@link readyUnlessRefused} needs of a BullMQ worker or queue. */
export interface ReadyTarget {
  waitUntilReady(): Promise<unknown>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  off(event: 'error', listener: (error: Error) => void): unknown;
}

/**
 * Waits until `target`'s connection is ready, as BullMQ's waitUntilReady does, except that a refusal (WRONGPASS,
 * NOAUTH, NOPERM) rejects with {@link RedisRefusedError} at once. BullMQ would reconnect and wait forever: right for
 * a server that is down or restarting, pointless for credentials that are wrong.
 */
export async function readyUnlessRefused(target: ReadyTarget): Promise<void> {
  let onError: ((error: Error) => void) | undefined;
  const refused = new Promise<never>((_resolve, reject) => {
    onError = (error) => {
      if (REFUSAL.test(error.message)) reject(new RedisRefusedError(error));
    };
    target.on('error', onError);
  });
  try {
    await Promise.race([target.waitUntilReady(), refused]);
  } finally {
    if (onError) target.off('error', onError);
  }
}
