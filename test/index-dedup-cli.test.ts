import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { s3ClientForTests } from './support/s3.js';
import { duckdbQuery, PipelineHarness } from './support/pipeline-harness.js';

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '..');
const cli = path.join(repo, 'apps/index/bin/vgg-index.js');
const fixtures = path.join(repo, 'packages/vgg-core/test-fixtures/images');

// Real photos from the fixtures (sharp's test images). Two get planted near-duplicates; the rest must stay apart.
const PLANTED = ['flowers.jpeg', 'concert.jpg'];
const OTHERS = [
  '2569067123_aca715a2ee_o.jpg',
  '320x240.jpg',
  'Landscape_3.jpg',
  'gamma_dalai_lama_gray.jpg',
  'Portrait_2.jpg',
];
// A seeded, untrained VGG-11 at 112 px: fast on CPU, and its fc7 still separates these photos (different photos
// measured at cosine distance >= 0.027, re-encoded or resized copies at <= 0.0005).
// Every model field is given, since the harness's small model fills in the rest.
const MODEL = { model: 'vgg11', seed: 0, inputSize: 112, classifierWidth: 1024, poolSize: 7 };
const PREPROCESS = { resizeSize: 128, cropSize: 112 };
const THRESHOLD = '0.005';

let work: string;
let images: string;
let runDir: string;
let indexDir: string;

async function vggIndex(...args: string[]): Promise<unknown> {
  const { stdout } = await run(process.execPath, [cli, ...args, '--json'], { cwd: repo });
  return JSON.parse(stdout) as unknown;
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'vgg-index-dedup-'));
  images = path.join(work, 'images');
  await mkdir(images);
  for (const name of [...PLANTED, ...OTHERS])
    await copyFile(path.join(fixtures, name), path.join(images, name));
  for (const name of PLANTED) {
    const source = path.join(fixtures, name);
    const { width } = await sharp(source).metadata();
    await sharp(source)
      .jpeg({ quality: 55 })
      .toFile(path.join(images, `${name}.q55.jpg`));
    await sharp(source)
      .resize(Math.round((width as number) / 2))
      .jpeg({ quality: 85 })
      .toFile(path.join(images, `${name}.half.jpg`));
    await sharp(source)
      .resize(Math.round((width as number) * 0.75))
      .png()
      .toFile(path.join(images, `${name}.three-quarter.png`));
    await copyFile(source, path.join(images, `${name}.copy${path.extname(name)}`));
  }
  // One real run through the pipeline: producer, Redis, a worker, Parquet shards and a manifest.
  const harness = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
  try {
    await harness.startWorker({ workerId: 'index-dedup' });
    const out = path.join(work, 'out');
    await harness.submit({
      sources: [images],
      out,
      runId: 'dedup-run',
      chunkSize: 4,
      ...MODEL,
      ...PREPROCESS,
      top: 1,
      taps: ['fc7'],
    });
    await harness.waitForRun('dedup-run', 120_000);
    runDir = path.join(out, 'dedup-run');
  } finally {
    await harness.close();
  }
  indexDir = path.join(work, 'index');
  // Two parts, so queries and dedup fan out; one insert thread, so every vector is reachable (see index-build-query).
  await vggIndex(
    'build',
    runDir,
    '--out',
    indexDir,
    '--tap',
    'fc7',
    '--max-part-vectors',
    '9',
    '--threads',
    '1',
  );
}, 180_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const uriOf = (name: string) => path.join(images, name);
const copiesOf = (name: string) =>
  [
    name,
    `${name}.q55.jpg`,
    `${name}.half.jpg`,
    `${name}.three-quarter.png`,
    `${name}.copy${path.extname(name)}`,
  ].map(uriOf);

describe('vgg-index CLI after a real run', () => {
  it('dedup puts each photo with its re-encoded, resized and copied files, and keeps different photos apart', async () => {
    const summary = (await vggIndex('dedup', indexDir, '--threshold', THRESHOLD)) as Record<string, unknown>;
    expect(summary).toMatchObject({ vectors: 15, clusters: 2, duplicateRows: 8 });
    const members = await duckdbQuery(
      `SELECT cluster, size, uri FROM read_parquet('${path.join(indexDir, 'dedup', 'clusters.parquet')}') ORDER BY cluster, id`,
    );
    const clusters = new Map<string, string[]>();
    for (const m of members)
      clusters.set(String(m.cluster), [...(clusters.get(String(m.cluster)) ?? []), String(m.uri)]);
    expect([...clusters.values()].map((uris) => uris.sort())).toEqual(
      expect.arrayContaining(PLANTED.map((name) => copiesOf(name).sort())),
    );
    expect(clusters.size).toBe(2);
    for (const name of OTHERS) expect(members.map((m) => m.uri)).not.toContain(uriOf(name));

    const pairs = await duckdbQuery(
      `SELECT uri_a, uri_b, distance, match FROM read_parquet('${path.join(indexDir, 'dedup', 'pairs.parquet')}') WHERE match = 'exact'`,
    );
    // The byte-identical copies are matched by sha256.
    expect(pairs.map((p) => [p.uri_a, p.uri_b].sort())).toEqual(
      expect.arrayContaining(
        PLANTED.map((name) => [uriOf(name), uriOf(`${name}.copy${path.extname(name)}`)].sort()),
      ),
    );
  });

  it('dedup at threshold 0 still groups byte-identical files, and only them', async () => {
    const out = path.join(work, 'dedup-zero');
    const summary = (await vggIndex('dedup', indexDir, '--threshold', '0', '--out', out)) as Record<
      string,
      unknown
    >;
    expect(summary).toMatchObject({ clusters: 2, duplicateRows: 2, exactPairs: 2 });
  });

  it('query --uri lists the photo’s copies first, each within the threshold, then other photos', async () => {
    const result = (await vggIndex('query', indexDir, '--uri', uriOf('flowers.jpeg'), '-k', '6')) as {
      results: { uri: string; distance: number; rank: number }[][];
    };
    const matches = result.results[0] ?? [];
    expect(matches.map((m) => m.rank)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(
      matches
        .slice(0, 5)
        .map((m) => m.uri)
        .sort(),
    ).toEqual(copiesOf('flowers.jpeg').sort());
    for (const m of matches.slice(0, 5)) expect(m.distance).toBeLessThanOrEqual(Number(THRESHOLD));
    expect(matches[5]?.distance).toBeGreaterThan(Number(THRESHOLD) * 3);
  });

  it('query --image embeds a new file with the run’s model (its flags, or by default its manifest’s) and preprocessing, and refuses another model', async () => {
    // A copy the run never saw: resized to a third and re-encoded.
    const fresh = path.join(work, 'fresh-concert.jpg');
    const { width } = await sharp(path.join(fixtures, 'concert.jpg')).metadata();
    await sharp(path.join(fixtures, 'concert.jpg'))
      .resize(Math.round((width as number) / 3))
      .jpeg({ quality: 70 })
      .toFile(fresh);
    const modelFlags = ['--model', 'vgg11', '--input-size', '112', '--classifier-width', '1024'];
    const result = (await vggIndex('query', indexDir, '--image', fresh, '-k', '5', ...modelFlags)) as {
      results: { uri: string; distance: number }[][];
    };
    const matches = result.results[0] ?? [];
    expect(matches.map((m) => m.uri).sort()).toEqual(copiesOf('concert.jpg').sort());
    for (const m of matches) expect(m.distance).toBeLessThanOrEqual(Number(THRESHOLD));

    // A file of the run, embedded again, lands on its stored vector: distance 0 to itself
    const self = (await vggIndex(
      'query',
      indexDir,
      '--image',
      uriOf('concert.jpg'),
      '-k',
      '1',
      ...modelFlags,
    )) as {
      results: { uri: string; distance: number }[][];
    };
    // (or to its byte-identical copy, which ties at distance 0).
    expect([uriOf('concert.jpg'), uriOf('concert.jpg.copy.jpg')]).toContain(self.results[0]?.[0]?.uri);
    expect(self.results[0]?.[0]?.distance).toBeLessThan(1e-3);

    // Without model flags the run's own model options, recorded in its manifest, embed the file.
    const manifest = JSON.parse(await readFile(path.join(runDir, '_manifest.json'), 'utf8'));
    expect(manifest.spec).toMatchObject({ model: { ...MODEL, seed: 0 }, l2Normalize: false });
    const bare = (await vggIndex('query', indexDir, '--image', uriOf('concert.jpg'), '-k', '1')) as {
      results: { uri: string; distance: number }[][];
    };
    expect(bare.results[0]?.[0]?.uri).toBe(self.results[0]?.[0]?.uri);
    expect(bare.results[0]?.[0]?.distance).toBeLessThan(1e-3);

    // Flags given win, and are still checked against the run's model.
    const wrong = await run(
      process.execPath,
      [cli, 'query', indexDir, '--image', fresh, '--model', 'vgg11'],
      {
        cwd: repo,
      },
    ).catch((e: { code: number; stderr: string }) => e);
    expect(wrong).toMatchObject({ code: 1 });
    expect((wrong as { stderr: string }).stderr).toMatch(
      /^vgg-index: The model given \(vgg11, seeded weights sha256 \w+…\) is not the one run dedup-run used/,
    );
  });

  it('explains bad invocations without a stack trace', async () => {
    const failure = await run(process.execPath, [cli, 'query', indexDir, '--uri', '/nope.jpg'], {
      cwd: repo,
    }).catch((e: { code: number; stderr: string }) => e);
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stderr: string }).stderr).toBe(
      'vgg-index: /nope.jpg is not in this index (the run did not list it, or it failed); query the file with --image\n',
    );
    const usage = await run(process.execPath, [cli, 'query', indexDir, '-k', '0', '--uri', '/nope.jpg'], {
      cwd: repo,
    }).catch((e: { code: number; stderr: string }) => e);
    expect(usage).toMatchObject({
      code: 2,
      stderr: 'vgg-index: Expected positive integer for --k but received 0\n(see vgg-index --help)\n',
    });
    const missing = await run(process.execPath, [cli, 'build', work, '--out', path.join(work, 'x')], {
      cwd: repo,
    }).catch((e: { stderr: string }) => e);
    expect((missing as { stderr: string }).stderr).toMatch(/^vgg-index: No _manifest.json in .*\n$/);
  });
});
