import type { S3Client } from '@aws-sdk/client-s3';
import { invalidOption } from '../errors.js';
import { LocalObjectStore } from './local-object-store.js';
import type { Location } from './location.js';
import type { ObjectStore } from './object-store.js';
import { S3ObjectStore } from './s3-object-store.js';

/** Dependencies of {@link openObjectStore}. */
export interface OpenObjectStoreDeps {
  /** Client for S3 locations; a function is called only when an S3 location is opened. */
  s3: S3Client | (() => S3Client);
}

/**
 * Opens the store for an output location from {@link parseLocation}. The one place that knows every store
 * implementation, so the interface in object-store.ts imports none of them.
 */
export function openObjectStore(location: Location, deps: OpenObjectStoreDeps): ObjectStore {
  switch (location.kind) {
    case 's3':
      return new S3ObjectStore({
        client: typeof deps.s3 === 'function' ? deps.s3() : deps.s3,
        bucket: location.bucket,
        prefix: location.prefix,
      });
    case 'local':
      return new LocalObjectStore({ dir: location.dir });
    case 'http':
      throw invalidOption('output location', 's3:// URI or local directory', location.url);
  }
}
