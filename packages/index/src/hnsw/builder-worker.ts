// The builder thread: owns one usearch index while it is built, so the long synchronous inserts never block the
// caller's event loop, and the index's native memory is released when the thread ends.
import { parentPort, workerData } from 'node:worker_threads';
import { isIndexError } from '../errors.js';
import type { BuilderInit, FromBuilder, ToBuilder } from './builder-protocol.js';
import { addToNativeIndex, createNativeIndex } from './native-index.js';

const init = workerData as BuilderInit;
const port = parentPort;
if (port === null) throw new Error('builder-worker must run in a worker thread');
const index = createNativeIndex(init.dim, init.settings);
const slots = init.slots.map((slot) => ({
  vectors: new Float32Array(slot.vectors),
  keys: new BigUint64Array(slot.keys),
}));

port.on('message', (message: ToBuilder) => {
  let reply: FromBuilder;
  try {
    if (message.type === 'add') {
      const slot = slots[message.slot];
      if (slot === undefined) throw new Error(`No batch slot ${message.slot}`);
      addToNativeIndex(
        index,
        slot.keys.subarray(0, message.count),
        slot.vectors.subarray(0, message.count * init.dim),
        init.threads,
      );
    } else {
      index.save(message.file);
    }
    reply = { id: message.id, type: 'done', size: index.size() };
  } catch (error) {
    reply = {
      id: message.id,
      type: 'error',
      code: isIndexError(error) ? error.code : 'INDEX_NATIVE',
      message: (error as Error).message,
    };
  }
  port.postMessage(reply);
});
