import { randomBytes } from 'node:crypto';

let counter = 0;

/**
 * A name no other test (in this or a parallel vitest worker) uses: lowercase letters, digits and dashes, at most
 * 63 characters, so it is also a valid S3 bucket name.
 */
export function uniqueName(prefix = 'test'): string {
  counter++;
  const tail = `${process.pid.toString(36)}-${Date.now().toString(36)}-${counter}-${randomBytes(3).toString('hex')}`;
  const head = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 62 - tail.length);
  return `${head || 't'}-${tail}`;
}
