import { describe, expect, it } from 'vitest';
import { parseBoolean, parseChoice, parseInteger, parseList } from './parse.js';

describe('parseInteger', () => {
  it('reads decimal integers within bounds', () => {
    expect(parseInteger('16', '--batch-size', { min: 1 })).toBe(16);
    expect(parseInteger(' 0 ', '--seed', { min: 0 })).toBe(0);
  });

  it('words its errors as sharp does, naming the flag or variable', () => {
    expect(() => parseInteger('0', '--batch-size', { min: 1 })).toThrow(
      'Expected positive integer for --batch-size but received 0',
    );
    expect(() => parseInteger('1.5', 'VGG_SEED', { min: 0 })).toThrow(
      'Expected non-negative integer for VGG_SEED but received 1.5',
    );
    expect(() => parseInteger('lots', '--chunk-size', { min: 1, max: 100_000 })).toThrow(
      'Expected integer between 1 and 100000 for --chunk-size but received "lots"',
    );
    expect(() => parseInteger('100001', '--chunk-size', { min: 1, max: 100_000 })).toThrow(
      /between 1 and 100000/,
    );
    expect(() => parseInteger('9007199254740993', '--n', {})).toThrow(/Expected integer/);
  });
});

describe('parseBoolean', () => {
  it('reads true/false, 1/0 and yes/no in any case', () => {
    for (const text of ['true', 'TRUE', '1', 'yes', 'Yes']) expect(parseBoolean(text, 'VGG_FP16')).toBe(true);
    for (const text of ['false', 'False', '0', 'no', ' NO '])
      expect(parseBoolean(text, 'VGG_FP16')).toBe(false);
  });

  it('rejects anything else instead of reading it as true', () => {
    expect(() => parseBoolean('off', 'VGG_FP16')).toThrow(
      'Expected one of true, false, 1, 0, yes, no for VGG_FP16 but received "off"',
    );
    expect(() => parseBoolean('', 'VGG_FP16')).toThrow(/for VGG_FP16/);
  });
});

describe('parseList and parseChoice', () => {
  it('splits on commas, trims and drops empty items', () => {
    expect(parseList(' fc7, pool5 ,,', '--taps')).toEqual(['fc7', 'pool5']);
    expect(parseList('', '--taps')).toEqual([]);
  });

  it('accepts only the listed words', () => {
    expect(parseChoice('fast', '--mode', ['exact', 'fast'])).toBe('fast');
    expect(() => parseChoice('quick', '--mode', ['exact', 'fast'])).toThrow(
      'Expected one of exact, fast for --mode but received "quick"',
    );
  });
});
