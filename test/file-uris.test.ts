import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { duckdbQuery, PipelineHarness } from './support/pipeline-harness.js';
import { s3ClientForTests } from './support/s3.js';

const fixture = path.resolve(import.meta.dirname, '../packages/vgg-core/test-fixtures/images/320x240.jpg');

let h: PipelineHarness;
let dir: string;

beforeAll(async () => {
  h = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
  dir = await mkdtemp(path.join(tmpdir(), 'vgg-file-uris-'));
});
afterAll(async () => {
  await h.close();
  await rm(dir, { recursive: true, force: true });
});

describe('malformed file: URIs with --local-roots', () => {
  it('end as one invalid_uri row each, and the rest of the chunk is processed', async () => {
    const root = path.join(dir, 'images');
    await mkdir(root);
    await copyFile(fixture, path.join(root, 'good.jpg'));
    const good = pathToFileURL(path.join(root, 'good.jpg')).href;
    const bad = [
      'file://otherhost/images/x.jpg', // a host other than localhost: not a local path
      `${pathToFileURL(root).href}/a%2Fb.jpg`, // an encoded slash
      `${pathToFileURL(root).href}/a%2fc.jpg`,
    ];
    const list = path.join(dir, 'inputs.txt');
    await writeFile(list, [good, ...bad, good.replace('good.jpg', 'missing.jpg')].join('\n'));
    await h.startWorker({ workerId: 'file-uris', localRoots: [root] });
    await h.submit({ sources: [list], out: path.join(dir, 'out'), runId: 'file-uris', chunkSize: 16 });
    const status = await h.waitForRun('file-uris', 60_000);
    expect(status.rows).toBe(5);
    const rows = await duckdbQuery(
      `SELECT uri, status, error FROM read_parquet('${path.join(dir, 'out', 'file-uris', 'shards', '*.parquet')}') ORDER BY uri`,
    );
    const byUri = new Map(rows.map((r) => [String(r.uri), r]));
    expect(rows).toHaveLength(5);
    // Well-formed file: URLs are read as the local paths they name.
    expect(byUri.get(path.join(root, 'good.jpg'))).toMatchObject({ status: 'ok', error: null });
    for (const uri of bad) {
      expect(byUri.get(uri), uri).toMatchObject({ status: 'error', error: 'invalid_uri' });
    }
    expect(byUri.get(path.join(root, 'missing.jpg'))).toMatchObject({ error: 'not_found' });
  });
});
