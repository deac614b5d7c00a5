import { PutObjectCommand } from '@aws-sdk/client-s3';
import { listSource, SourceError } from 'vgg-pipeline';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestBucket, s3ClientForTests } from './support/s3.js';
import { uniqueName } from './support/unique-name.js';

let bucket: string;

async function put(key: string, body: string | Uint8Array = 'x'): Promise<void> {
  await s3ClientForTests().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.from(body) }));
}

async function collect(source: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of listSource(source, { s3: () => s3ClientForTests() })) out.push(entry.uri);
  return out;
}

beforeAll(async () => {
  bucket = await createTestBucket();
});

describe('listSource on S3', () => {
  it('lists image keys under a prefix across pages, skipping other files and dot folders', async () => {
    const images = Array.from({ length: 1_020 }, (_, i) => `photos/${String(i).padStart(4, '0')}.jpg`);
    const others = ['photos/readme.txt', 'photos/.cache/x.jpg', 'photos2/y.jpg', 'photos/sub/z.PNG'];
    const keys = [...images, ...others];
    for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((key) => put(key)));
    const expected = [...images, 'photos/sub/z.PNG'].map((key) => `s3://${bucket}/${key}`);
    expect(await collect(`s3://${bucket}/photos/`)).toEqual(expected);
    // Without the trailing slash the prefix is still a folder: photos2/ is not included.
    expect(await collect(`s3://${bucket}/photos`)).toEqual(expected);
  });

  it('yields a single image key after checking it exists', async () => {
    await put('one/a.webp');
    expect(await collect(`s3://${bucket}/one/a.webp`)).toEqual([`s3://${bucket}/one/a.webp`]);
    await expect(collect(`s3://${bucket}/one/missing.webp`)).rejects.toMatchObject({
      code: 'SOURCE_NOT_FOUND',
    });
  });

  it('reads manifests stored on S3, resolving relative entries against the manifest folder', async () => {
    await put('lists/in.txt', '# header\nimgs/a.jpg\n../up/b.jpg\ns3://other/c.jpg\n/abs/d.jpg\n');
    expect(await collect(`s3://${bucket}/lists/in.txt`)).toEqual([
      `s3://${bucket}/lists/imgs/a.jpg`,
      `s3://${bucket}/up/b.jpg`,
      's3://other/c.jpg',
      '/abs/d.jpg',
    ]);
    await put('lists/in.csv', 'uri,label\n"imgs/x,1.jpg",cat\nhttps://h.example/y.jpg,dog\n');
    expect(await collect(`s3://${bucket}/lists/in.csv`)).toEqual([
      `s3://${bucket}/lists/imgs/x,1.jpg`,
      'https://h.example/y.jpg',
    ]);
    await put('lists/in.jsonl', '{"uri":"s3://b2/k.jpg"}\n');
    expect(await collect(`s3://${bucket}/lists/in.jsonl`)).toEqual(['s3://b2/k.jpg']);
  });

  it('throws SOURCE_NOT_FOUND for an empty prefix, a missing manifest and a missing bucket', async () => {
    for (const source of [
      `s3://${bucket}/nothing-here/`,
      `s3://${bucket}/lists/missing.csv`,
      `s3://${uniqueName('nobucket')}/x/`,
    ]) {
      const error = await collect(source).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SourceError);
      expect(error).toMatchObject({ code: 'SOURCE_NOT_FOUND', source });
    }
  });
});
