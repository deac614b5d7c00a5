import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceError } from '../errors.js';
import { isImageName } from './source-kinds.js';
import { listSource } from './sources.js';
import { textLines } from './text-records.js';

const noS3 = (): S3Client => {
  throw new Error('S3 must not be used for local sources');
};

async function collect(source: string, stdin?: NodeJS.ReadableStream): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of listSource(source, { s3: noS3, ...(stdin ? { stdin } : {}) }))
    out.push(entry.uri);
  return out;
}

let root: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'vgg-sources-'));
  const files = [
    'b.jpg',
    'a.PNG',
    'notes.txt',
    '.hidden.jpg',
    'sub/z.webp',
    'sub/y.tiff',
    'sub-x.gif',
    '.git/c.jpg',
  ];
  for (const file of files) {
    await mkdir(path.dirname(path.join(root, 'tree', file)), { recursive: true });
    await writeFile(path.join(root, 'tree', file), 'x');
  }
  await mkdir(path.join(root, 'outside'), { recursive: true });
  await writeFile(path.join(root, 'outside', 'o.jpg'), 'x');
  await symlink(path.join(root, 'outside'), path.join(root, 'tree', 'linked-dir'));
  await symlink(path.join(root, 'outside', 'o.jpg'), path.join(root, 'tree', 'linked.jpg'));
  await symlink(path.join(root, 'tree'), path.join(root, 'tree', 'sub', 'loop'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('listSource on local paths', () => {
  it('walks a directory recursively in byte order, keeping images, skipping dot files and symlinked folders', async () => {
    const tree = path.join(root, 'tree');
    expect(await collect(tree)).toEqual(
      ['a.PNG', 'b.jpg', 'linked.jpg', 'sub-x.gif', 'sub/y.tiff', 'sub/z.webp'].map((f) =>
        path.join(tree, f),
      ),
    );
    // Same order on every call: chunking is deterministic, so runs can resume.
    expect(await collect(`file://${tree}`)).toEqual(await collect(tree));
  });

  it('yields a single file as itself, resolved to an absolute path', async () => {
    const relative = path.relative(process.cwd(), path.join(root, 'tree', 'b.jpg'));
    expect(await collect(relative)).toEqual([path.join(root, 'tree', 'b.jpg')]);
  });

  it('reads .txt manifests, skipping comments and blank lines, resolving relative paths against the manifest', async () => {
    const manifest = path.join(root, 'm', 'list.txt');
    await mkdir(path.dirname(manifest), { recursive: true });
    await writeFile(
      manifest,
      '\uFEFF# inputs\r\nimg/a.jpg\r\n\n  /abs/b.png  \nhttps://h.example/c.jpg?sig=1\ns3://bk/d.jpg\nfile:///e%20f.jpg\n# end',
    );
    expect(await collect(manifest)).toEqual([
      path.join(root, 'm', 'img', 'a.jpg'),
      '/abs/b.png',
      'https://h.example/c.jpg?sig=1',
      's3://bk/d.jpg',
      '/e f.jpg',
    ]);
  });

  it('reads the uri column of a CSV manifest with quoted fields, commas and line breaks', async () => {
    const manifest = path.join(root, 'm', 'list.csv');
    await writeFile(
      manifest,
      'id,"URI",caption\r\n1,a.jpg,"hello, world"\r\n2,"b ""quoted"".jpg","two\nlines"\n3,,empty\n4,"/x/c,d.jpg",x',
    );
    expect(await collect(manifest)).toEqual([
      path.join(root, 'm', 'a.jpg'),
      path.join(root, 'm', 'b "quoted".jpg'),
      '/x/c,d.jpg',
    ]);
  });

  it('reads the uri field of JSON lines manifests', async () => {
    const manifest = path.join(root, 'm', 'list.ndjson');
    await writeFile(manifest, '{"uri":"a.jpg","label":1}\n\n{"uri":"https://h.example/b.jpg"}\n');
    expect(await collect(manifest)).toEqual([path.join(root, 'm', 'a.jpg'), 'https://h.example/b.jpg']);
  });

  it('names the problem when a manifest is malformed', async () => {
    const csv = path.join(root, 'm', 'bad.csv');
    await writeFile(csv, 'path,label\na.jpg,1\n');
    await expect(collect(csv)).rejects.toThrow(
      /CSV header has no "uri" or "url" column \(found: "path", "label"\); name it with --url-col/,
    );
    const jsonl = path.join(root, 'm', 'bad.jsonl');
    await writeFile(jsonl, '{"uri":"a.jpg"}\n{"path":"b.jpg"}\n');
    await expect(collect(jsonl)).rejects.toMatchObject({
      code: 'SOURCE_INVALID',
      message: expect.stringMatching(/line 2 has no string "uri" or "url" field/),
    });
  });

  it('streams a manifest of 300,000 lines', async () => {
    const manifest = path.join(root, 'm', 'big.lst');
    const lines = Array.from({ length: 300_000 }, (_, i) => `s3://bucket/images/${i}.jpg`);
    await writeFile(manifest, lines.join('\n'));
    const started = performance.now();
    let count = 0;
    let last = '';
    for await (const entry of listSource(manifest, { s3: noS3 })) {
      count++;
      last = entry.uri;
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `listed 300000 manifest lines in ${seconds.toFixed(2)} s (${Math.round(300_000 / seconds)} lines/s)`,
    );
    expect(count).toBe(300_000);
    expect(last).toBe('s3://bucket/images/299999.jpg');
  });

  it('throws SOURCE_NOT_FOUND naming a missing source and what sources are accepted', async () => {
    const missing = path.join(root, 'does-not-exist');
    const error = await collect(missing).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceError);
    expect(error).toMatchObject({ code: 'SOURCE_NOT_FOUND' });
    expect((error as Error).message).toContain(missing);
    expect((error as Error).message).toMatch(/expected a directory, an image file, manifests .txt\/.lst/);
  });
});

describe('listSource on URLs and stdin', () => {
  it('yields http(s) URLs as they are', async () => {
    expect(await collect('https://example.com/x.jpg?token=1')).toEqual(['https://example.com/x.jpg?token=1']);
  });

  it('reads one URI per line from stdin for "-"', async () => {
    const stdin = Readable.from(['a.jpg\n# c\n', '\ns3://b/x.png\r\nhttp://h/y.jpg']);
    expect(await collect('-', stdin)).toEqual([path.resolve('a.jpg'), 's3://b/x.png', 'http://h/y.jpg']);
    await expect(collect('-')).rejects.toThrow(/stdin is not available/);
  });

  it('rejects unsupported schemes', async () => {
    await expect(collect('ftp://host/x.jpg')).rejects.toMatchObject({ code: 'SOURCE_INVALID' });
  });
});

describe('line reader and names', () => {
  it('split lines across chunk boundaries, including a multi-byte character split between chunks', async () => {
    const bytes = Buffer.from('α\r\nbé\nlast', 'utf8');
    const chunks = [bytes.subarray(0, 1), bytes.subarray(1, 4), bytes.subarray(4, 6), bytes.subarray(6)];
    const lines: string[] = [];
    for await (const line of textLines(Readable.from(chunks))) lines.push(line);
    expect(lines).toEqual(['α', 'bé', 'last']);
  });

  it('recognise image extensions case-insensitively', () => {
    expect(isImageName('x/Y.JPEG')).toBe(true);
    expect(isImageName('a.heic')).toBe(true);
    expect(isImageName('a.txt')).toBe(false);
    expect(isImageName('jpg')).toBe(false);
  });
});
