import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { prepareModel } from './prepare-model.js';

// The built CLI, as users run it (tests run after `tsc -b`).
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const SCRIPT = fileURLToPath(new URL('../../../scripts/numpy_reference.py', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`../test-fixtures/images/${name}`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vgg-cli-test-'));
const cacheDir = join(dir, 'cache');
const MODEL = "[8,'M',16,'M']";
const modelFlags = [
  '--model',
  MODEL,
  '--classifier-width',
  '16',
  '--input-size',
  '32',
  '--cache-dir',
  cacheDir,
];

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]) {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('vgg-model predict', () => {
  it('prints JSONL per image with top classes, embeddings, model identity and per-image errors', () => {
    const pixels = join(dir, 'pixels');
    const run = cli(
      'predict',
      fixture('flowers.jpeg'),
      fixture('truncated.jpg'),
      ...modelFlags,
      '--top',
      '3',
      '--taps',
      'fc7,pool5',
      '--json',
      '--dump-pixels',
      pixels,
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines).toHaveLength(2);
    const [ok, bad] = lines;
    expect(ok.file).toBe(fixture('flowers.jpeg'));
    expect(ok.top).toHaveLength(3);
    expect(ok.top[0]).toEqual({
      class_id: expect.any(Number),
      label: expect.any(String),
      prob: expect.any(Number),
    });
    expect(ok.embeddings.fc7).toHaveLength(16);
    expect(ok.embeddings.pool5).toHaveLength(16);
    expect(ok.model).toMatchObject({
      variant: 'custom[8,M,16,M]',
      source: 'seeded',
      untrained: true,
      seed: 0,
      provider: 'cpu',
    });
    expect(bad).toMatchObject({
      file: fixture('truncated.jpg'),
      error: 'truncated',
      message: expect.any(String),
    });
    expect(bad.top).toBeUndefined();
  });

  it('agrees with the independent numpy reference on the dumped crop', async () => {
    const probe = spawnSync('python3', ['-c', 'import numpy']);
    if (probe.status !== 0) {
      console.info('numpy cross-check skipped: python3 with numpy unavailable');
      return;
    }
    const pixels = join(dir, 'numpy-pixels');
    const run = cli(
      'predict',
      fixture('Landscape_6.jpg'),
      ...modelFlags,
      '--top',
      '5',
      '--taps',
      'fc7',
      '--json',
      '--dump-pixels',
      pixels,
    );
    expect(run.status).toBe(0);
    const ours = JSON.parse(run.stdout);
    const model = await prepareModel({ model: MODEL, classifierWidth: 16, inputSize: 32, cacheDir });
    const reference = spawnSync(
      'python3',
      [
        SCRIPT,
        '--model',
        MODEL,
        '--weights',
        model.weightsPath!,
        '--pixels',
        join(pixels, 'Landscape_6.jpg.rgb'),
        '--input-size',
        '32',
        '--classifier-width',
        '16',
        '--top',
        '5',
        '--taps',
        'fc7',
      ],
      { encoding: 'utf8' },
    );
    expect(reference.stderr).toBe('');
    const theirs = JSON.parse(reference.stdout).results[0];
    expect(ours.top.map((c: { class_id: number }) => c.class_id)).toEqual(
      theirs.top.map((c: { index: number }) => c.index),
    );
    ours.top.forEach((c: { prob: number }, i: number) => {
      expect(c.prob).toBeCloseTo(theirs.top[i].prob, 5);
    });
    ours.embeddings.fc7.forEach((v: number, i: number) => {
      expect(v).toBeCloseTo(theirs.taps.fc7[i], 4);
    });
  });

  it("dumps the crop torchvision makes, upright or (--no-auto-orient) as stored, or the fast pipeline's", async () => {
    const manifest = JSON.parse(
      readFileSync(new URL('../test-fixtures/parity/manifest.json', import.meta.url), 'utf8'),
    ) as { entries: { file: string; ref: string; refStrict: string }[] };
    const entry = manifest.entries.find((e) => e.file === 'images/Landscape_6.jpg')!;
    const reference = async (rel: string) =>
      sharp(fileURLToPath(new URL(`../test-fixtures/${rel}`, import.meta.url)))
        .raw()
        .toBuffer();
    const dump = (...flags: string[]) => {
      const out = join(dir, `dump${flags.join('')}`);
      const flags224 = ['--model', "[8,'M']", '--classifier-width', '16', '--cache-dir', cacheDir];
      const run = cli('predict', fixture('Landscape_6.jpg'), ...flags224, '--dump-pixels', out, ...flags);
      expect(run.stderr).toBe('');
      return readFileSync(join(out, 'Landscape_6.jpg.rgb'));
    };
    expect(dump().equals(await reference(entry.ref))).toBe(true);
    expect(dump('--no-auto-orient').equals(await reference(entry.refStrict))).toBe(true);
    expect(dump('--preprocess', 'fast').equals(await reference(entry.ref))).toBe(false);
    const bad = cli('predict', fixture('concert.jpg'), '--preprocess', 'pil');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('Expected one of torchvision, fast for --preprocess but received "pil"');
  });

  it('prints a readable listing that says when the weights are untrained', () => {
    const run = cli('predict', fixture('concert.jpg'), ...modelFlags, '--top', '2');
    expect(run.status).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toBe('model custom[8,M,16,M] (seeded weights, seed 0; 1000 classes; input 32px) on cpu');
    expect(lines[1]).toMatch(/^UNTRAINED: /);
    expect(lines[2]).toBe(`${fixture('concert.jpg')} (400x267)`);
    expect(lines[3]).toMatch(/^ {2}0\.\d{4} {2}.+ \(\d+\)$/);
    expect(lines).toHaveLength(5);
  });

  it('exits 1 when no image could be classified', () => {
    const text = join(dir, 'not-an-image.jpg');
    writeFileSync(text, 'just text\n');
    const run = cli('predict', text, ...modelFlags, '--json');
    expect(run.status).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ error: 'unsupported_format' });
  });

  it('exits 2 with a clear message on contradictory, unknown or invalid options', () => {
    const image = fixture('concert.jpg');
    const both = cli('predict', image, '--weights', 'w.safetensors', '--onnx', 'm.onnx');
    expect(both.status).toBe(2);
    expect(both.stderr).toContain('Expected at most one of --weights and --onnx but received both');
    const unknown = cli('predict', image, '--frobnicate');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--frobnicate'/);
    const provider = cli('predict', image, '--provider', 'cuda:x');
    expect(provider.status).toBe(2);
    expect(provider.stderr).toContain(
      `Expected one of 'cpu', 'cuda', 'cuda:N' (N a device index), 'auto' for --provider`,
    );
    const top = cli('predict', image, '--top', 'many');
    expect(top.status).toBe(2);
    expect(top.stderr).toContain('Expected non-negative integer for --top but received "many"');
    const tap = cli('predict', image, ...modelFlags, '--taps', 'fc9');
    expect(tap.status).toBe(2);
    expect(tap.stderr).toMatch(
      /^error: Expected one of relu1_1, relu2_1, pool5, fc6, fc7, logits, probs or gram:<conv tap> for tap/,
    );
    const nothing = cli('predict', image, ...modelFlags, '--top', '0');
    expect(nothing.status).toBe(2);
    expect(nothing.stderr).toMatch(
      /^error: Expected positive integer when no --taps are given for --top but received 0/,
    );
  });

  it('exits 2 explaining how to install CUDA support when --provider cuda cannot load', () => {
    const run = cli('predict', fixture('concert.jpg'), ...modelFlags, '--provider', 'cuda');
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(
      /error: Cannot create an onnxruntime session on cuda:0: .*ONNXRUNTIME_NODE_INSTALL=cuda12/,
    );
  });

  it('prints help for every command', () => {
    for (const args of [['--help'], ['predict', '--help'], ['inspect', '--help']]) {
      const run = cli(...args);
      expect(run.status).toBe(0);
      expect(run.stdout).toMatch(/^Usage: vgg-model/);
    }
  });
});

describe('vgg-model inspect', () => {
  it('prints JSON with an integer parameter count', () => {
    const run = cli('inspect', 'vgg16', '--json');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout).params).toBe(138_357_544);
  });

  it('prints a layer table for a custom configuration', () => {
    const run = cli('inspect', MODEL, '--classifier-width', '16', '--input-size', '32');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/conv1_1/);
    expect(run.stdout).toMatch(/fc7/);
  });
});
