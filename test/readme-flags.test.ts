/**
 * README's option tables are the user's map, and `--help` is derived from the flag tables. This keeps the two in
 * step: a flag renamed or removed in code fails here until README follows, and a run option added to RUN_OPTIONS
 * fails here until README documents it. No servers needed; it starts 14 CLIs for their --help, slow on a loaded machine.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { flagName } from 'vgg-cli-kit';
import { RUN_OPTIONS } from 'vgg-pipeline';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);

/** Every CLI and subcommand whose --help documents flags. */
const HELP_COMMANDS: ReadonlyArray<readonly [string, ...string[]]> = [
  ['apps/producer/bin/vgg-producer.js'],
  ['apps/producer/bin/vgg-producer.js', 'submit'],
  ['apps/producer/bin/vgg-producer.js', 'status'],
  ['apps/producer/bin/vgg-producer.js', 'cancel'],
  ['apps/producer/bin/vgg-producer.js', 'retry-failed'],
  ['apps/producer/bin/vgg-producer.js', 'compact'],
  ['apps/worker/bin/vgg-worker.js'],
  ['apps/local/bin/vgg-local.js'],
  ['apps/index/bin/vgg-index.js', 'build'],
  ['apps/index/bin/vgg-index.js', 'query'],
  ['apps/index/bin/vgg-index.js', 'dedup'],
  ['apps/index/bin/vgg-index.js', 'info'],
  ['packages/vgg-core/bin/vgg-model.js', 'inspect'],
  ['packages/vgg-core/bin/vgg-model.js', 'predict'],
];

async function helpFlags(): Promise<Set<string>> {
  const outputs = await Promise.all(
    HELP_COMMANDS.map(async ([bin, ...args]) => {
      const { stdout } = await run(process.execPath, [path.join(repoRoot, bin), ...args, '--help'], {
        cwd: repoRoot,
      });
      return stdout;
    }),
  );
  // Option lines in commander's help start with the flag (after an optional short alias).
  return new Set(
    outputs.flatMap((text) => [...text.matchAll(/^\s+(?:-\w, )?(--[a-z0-9-]+)/gm)].map((m) => m[1]!)),
  );
}

/** The flags in the first cell of README's table rows (`| \`--a\`, \`--b <x>\` | ...`). */
function tableFlags(readme: string): string[] {
  const rows = readme.split('\n').filter((line) => line.startsWith('| `--'));
  return rows.flatMap((row) => [...(row.split('|')[1] ?? '').matchAll(/`(--[a-z0-9-]+)/g)].map((m) => m[1]!));
}

describe('README option tables', () => {
  it('name only flags that some --help lists', async () => {
    const [readme, known] = await Promise.all([
      readFile(path.join(repoRoot, 'README.md'), 'utf8'),
      helpFlags(),
    ]);
    const documented = tableFlags(readme);
    expect(documented.length).toBeGreaterThan(20);
    expect(documented.filter((flag) => !known.has(flag))).toEqual([]);
  }, 180_000);

  it('document every run option', async () => {
    const readme = await readFile(path.join(repoRoot, 'README.md'), 'utf8');
    const mentioned = new Set([...readme.matchAll(/--[a-z0-9-]+/g)].map((m) => m[0]));
    const flags = Object.entries(RUN_OPTIONS).map(([key, spec]) => flagName(key, spec));
    expect(flags.length).toBeGreaterThan(20);
    expect(flags.filter((flag) => !mentioned.has(flag))).toEqual([]);
  });
});
