import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { VggError } from './errors.js';

/**
 * The compiled entry of a worker thread, `name` (a .js path) relative to the module at `base` (its
 * import.meta.url). From dist/ it sits beside that module; when the module runs from src/ (under vitest, which
 * transforms TypeScript but cannot start a .ts worker) the package's dist/ build of it is used.
 */
export function workerScript(name: string, base: string): URL {
  const beside = new URL(name, base);
  const candidates = [beside, new URL(beside.href.replace(/\/src\/(?!.*\/src\/)/, '/dist/'))];
  const found = candidates.find((url) => existsSync(url));
  if (found === undefined) {
    throw new VggError(
      'VGG_INFERENCE',
      `Cannot find the worker script ${name} (looked for ${candidates.map((url) => fileURLToPath(url)).join(' and ')}); build vgg-core with tsc -b`,
    );
  }
  return found;
}
