import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { FlagSet } from './flag-set.js';
import type { FlagTable } from './flag-table.js';

const TABLE = {
  batchSize: { kind: 'integer', min: 1, default: 16, description: 'images per inference call' },
  intraOpNumThreads: {
    kind: 'integer',
    min: 1,
    flag: 'threads',
    defaultText: 'all cores',
    description: 'threads',
  },
  fp16: { kind: 'boolean', description: 'store embeddings as float16' },
  taps: { kind: 'list', default: [], description: 'embedding taps' },
  out: { kind: 'string', valueName: 'uri', required: true, description: 'where outputs go' },
  weights: { kind: 'string', valueName: 'uri', conflicts: ['onnx'], description: 'weights' },
  onnx: { kind: 'string', valueName: 'uri', description: 'an ONNX file' },
  device: {
    kind: 'string',
    default: 'cpu',
    description: 'where to run',
    parse: (text: string, name: string) => {
      if (text !== 'cpu' && text !== 'cuda')
        throw new Error(`Expected cpu or cuda for ${name} but received ${text}`);
      return text;
    },
  },
} as const satisfies FlagTable;

function parse(argv: string[], env: Record<string, string> = {}, defaults = {}) {
  const flags = new FlagSet(TABLE, { envPrefix: 'VGG_', defaults });
  const command = flags.addTo(new Command('t').exitOverride().configureOutput({ writeErr: () => undefined }));
  command.parse(argv, { from: 'user' });
  return flags.read(command, env);
}

describe('FlagSet', () => {
  it('gives typed values from flags, then environment twins, then defaults', () => {
    const values = parse(['--out', '/o', '--threads', '2'], { VGG_BATCH_SIZE: '8', VGG_TAPS: 'fc7,pool5' });
    expect(values).toEqual({
      batchSize: 8,
      intraOpNumThreads: 2,
      fp16: false,
      taps: ['fc7', 'pool5'],
      out: '/o',
      device: 'cpu',
    });
    expect(parse(['--out', '/o', '--batch-size', '4'], { VGG_BATCH_SIZE: '8' }).batchSize).toBe(4);
  });

  it('reads a switch named --no-x as set only when it is given', () => {
    const table = { noAutoOrient: { kind: 'boolean', description: 'ignore EXIF orientation' } } as const;
    const read = (argv: string[], env: Record<string, string> = {}) => {
      const flags = new FlagSet(table, { envPrefix: 'VGG_' });
      const command = flags.addTo(new Command('t').exitOverride());
      command.parse(argv, { from: 'user' });
      return flags.read(command, env).noAutoOrient;
    };
    expect(read([])).toBe(false);
    expect(read(['--no-auto-orient'])).toBe(true);
    expect(read([], { VGG_NO_AUTO_ORIENT: 'yes' })).toBe(true);
  });

  it('derives environment twins from flag names', () => {
    const flags = new FlagSet(TABLE, { envPrefix: 'VGG_' });
    expect(flags.envOf('intraOpNumThreads')).toBe('VGG_THREADS');
    expect(flags.flagOf('batchSize')).toBe('--batch-size');
    expect(new FlagSet(TABLE).envOf('batchSize')).toBeUndefined();
  });

  it('reads boolean twins as true/false/1/0/yes/no, so VGG_FP16=false is false', () => {
    expect(parse(['--out', '/o'], { VGG_FP16: 'false' }).fp16).toBe(false);
    expect(parse(['--out', '/o'], { VGG_FP16: '0' }).fp16).toBe(false);
    expect(parse(['--out', '/o'], { VGG_FP16: 'yes' }).fp16).toBe(true);
    expect(parse(['--out', '/o', '--fp16'], { VGG_FP16: 'false' }).fp16).toBe(true);
    expect(() => parse(['--out', '/o'], { VGG_FP16: 'maybe' })).toThrow(
      'Expected one of true, false, 1, 0, yes, no for VGG_FP16 but received "maybe"',
    );
  });

  it('names the flag or the variable a bad value came from', () => {
    expect(() => parse(['--out', '/o', '--batch-size', '0'])).toThrow(
      'Expected positive integer for --batch-size but received 0',
    );
    expect(() => parse(['--out', '/o'], { VGG_BATCH_SIZE: 'x' })).toThrow(
      'Expected positive integer for VGG_BATCH_SIZE but received "x"',
    );
    expect(() => parse(['--out', '/o', '--device', 'gpu'])).toThrow(
      expect.objectContaining({ code: 'CLI_USAGE', flag: '--device' }),
    );
  });

  it('requires required flags unless a twin or a command default gives them', () => {
    expect(() => parse([])).toThrow('Missing --out <uri> (or VGG_OUT): where outputs go');
    expect(parse([], { VGG_OUT: '/e' }).out).toBe('/e');
    expect(parse([], {}, { out: './out', batchSize: 2 })).toMatchObject({ out: './out', batchSize: 2 });
  });

  it('refuses flags that exclude each other', () => {
    expect(() => parse(['--out', '/o', '--weights', 'w', '--onnx', 'm'])).toThrow(
      'Expected at most one of --weights and --onnx but received both',
    );
  });

  it('shows defaults and twins in --help', () => {
    const flags = new FlagSet(TABLE, { envPrefix: 'VGG_', defaults: { batchSize: 2 } });
    const help = flags.addTo(new Command('t')).helpInformation();
    expect(help).toContain('--batch-size <n>');
    expect(help).toContain('images per inference call (default: 2; env: VGG_BATCH_SIZE)');
    expect(help).toContain('threads (default: all cores; env: VGG_THREADS)');
    expect(help).toContain('where outputs go (required; env: VGG_OUT)');
  });
});
