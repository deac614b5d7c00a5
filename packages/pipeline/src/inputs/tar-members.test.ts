import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { create as createTar } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TarMember, TarReadError, tarMembers, webdatasetKey } from './tar-members.js';

let dir: string;
let shard: Buffer;

/** A WebDataset-style shard made by node-tar (GNU tar's format), members in the order given. */
async function makeShard(
  files: Record<string, string | Buffer>,
  options: { gzip?: boolean } = {},
): Promise<Buffer> {
  const src = await mkdtemp(path.join(dir, 'src-'));
  for (const [name, body] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(src, name)), { recursive: true });
    await writeFile(path.join(src, name), body);
  }
  const file = path.join(dir, `${path.basename(src)}.tar`);
  await createTar({ file, cwd: src, portable: true, gzip: options.gzip ?? false }, Object.keys(files));
  return readFile(file);
}

async function read(
  bytes: Uint8Array,
  maxMemberBytes = 1 << 20,
): Promise<{ members: TarMember[]; error: unknown }> {
  const members: TarMember[] = [];
  try {
    for await (const member of tarMembers(chunks(bytes, 700), { maxMemberBytes })) members.push(member);
    return { members, error: null };
  } catch (error) {
    return { members, error };
  }
}

async function* chunks(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vgg-tar-'));
  shard = await makeShard({
    '000000.jpg': Buffer.alloc(3000, 1),
    '000000.json': '{"caption":"a cat","width":640}',
    '000000.txt': 'a cat',
    '000001.png': Buffer.alloc(100, 2),
    'part/000002.seg.png': Buffer.alloc(10, 3),
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('tarMembers', () => {
  it('reads file members in order with WebDataset keys and extensions', async () => {
    const { members, error } = await read(shard);
    expect(error).toBeNull();
    expect(members.map((m) => [m.name, m.key, m.extension, m.size])).toEqual([
      ['000000.jpg', '000000', 'jpg', 3000],
      ['000000.json', '000000', 'json', 31],
      ['000000.txt', '000000', 'txt', 5],
      ['000001.png', '000001', 'png', 100],
      ['part/000002.seg.png', 'part/000002', 'seg.png', 10],
    ]);
    expect(Buffer.from(members[1]?.bytes ?? []).toString()).toBe('{"caption":"a cat","width":640}');
  });

  it('reads gzip-compressed shards the same', async () => {
    const gz = await makeShard({ 'a.jpg': 'x', 'a.txt': 'y' }, { gzip: true });
    expect(gz[0]).toBe(0x1f);
    const { members, error } = await read(gz);
    expect(error).toBeNull();
    expect(members.map((m) => m.name)).toEqual(['a.jpg', 'a.txt']);
  });

  it('does not hold members above the limit but still reads past them', async () => {
    const { members } = await read(shard, 1000);
    expect(members[0]).toMatchObject({ name: '000000.jpg', bytes: null, size: 3000 });
    expect(members[3]?.bytes?.length).toBe(100);
  });

  it('reports a truncated shard after the members before the cut, naming the member cut short', async () => {
    // Cut inside 000001.png's data: the 512-byte header of 000000.jpg, its 3000 bytes padded to 3072, three more
    // headers and padded blocks, then 000001.png's header.
    const { members, error } = await read(shard.subarray(0, 512 + 3072 + 1024 + 1024 + 512 + 50));
    expect(members.map((m) => m.name)).toEqual(['000000.jpg', '000000.json', '000000.txt']);
    expect(error).toBeInstanceOf(TarReadError);
    expect(error).toMatchObject({ reason: 'truncated', member: '000001.png', membersRead: 3 });
  });

  it('reports a corrupt header as corrupt after the members before it', async () => {
    const bad = Buffer.from(shard);
    // The header of the second member (000000.json) starts after the first header and its data blocks.
    const header = 512 + 3072;
    bad[header + 10] = (bad[header + 10] as number) ^ 0xff;
    const { members, error } = await read(bad);
    expect(members.map((m) => m.name)).toEqual(['000000.jpg']);
    expect(error).toMatchObject({ reason: 'corrupt', member: null, membersRead: 1 });
  });

  it('passes errors of the byte stream through as they are', async () => {
    const failing = (async function* () {
      yield shard.subarray(0, 1024);
      throw new Error('connection reset');
    })();
    const members: string[] = [];
    await expect(
      (async () => {
        for await (const m of tarMembers(failing, { maxMemberBytes: 1 << 20 })) members.push(m.name);
      })(),
    ).rejects.toThrow('connection reset');
  });

  it('split names as WebDataset does', () => {
    expect(webdatasetKey('a/b.c/d.seg.jpg')).toEqual({ key: 'a/b.c/d', extension: 'seg.jpg' });
    expect(webdatasetKey('README')).toEqual({ key: 'README', extension: '' });
    expect(webdatasetKey('x/.hidden')).toEqual({ key: 'x/.hidden', extension: '' });
  });
});
