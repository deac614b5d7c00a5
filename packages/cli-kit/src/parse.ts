import { invalidFlag } from './errors.js';

/** Bounds of an integer flag; both inclusive. */
export interface IntegerBounds {
  min?: number;
  max?: number;
}

/** How an integer flag's bounds read in a message: "positive integer", "integer between 1 and 100000". */
export function describeInteger({ min, max }: IntegerBounds): string {
  if (min !== undefined && max !== undefined) return `integer between ${min} and ${max}`;
  if (min === 1) return 'positive integer';
  if (min === 0) return 'non-negative integer';
  if (min !== undefined) return `integer of at least ${min}`;
  if (max !== undefined) return `integer of at most ${max}`;
  return 'integer';
}

/** Parses a decimal integer within bounds; `name` is the flag or variable named in the error. */
export function parseInteger(text: string, name: string, bounds: IntegerBounds = {}): number {
  const trimmed = text.trim();
  const value = Number(trimmed);
  if (
    !/^-?\d+$/.test(trimmed) ||
    !Number.isSafeInteger(value) ||
    (bounds.min !== undefined && value < bounds.min) ||
    (bounds.max !== undefined && value > bounds.max)
  ) {
    throw invalidFlag(name, describeInteger(bounds), text);
  }
  return value;
}

const TRUE = new Set(['true', '1', 'yes']);
const FALSE = new Set(['false', '0', 'no']);

/** Parses `true`/`false`, `1`/`0` or `yes`/`no` (any case); anything else is an error, never a silent true. */
export function parseBoolean(text: string, name: string): boolean {
  const word = text.trim().toLowerCase();
  if (TRUE.has(word)) return true;
  if (FALSE.has(word)) return false;
  throw invalidFlag(name, 'one of true, false, 1, 0, yes, no', text);
}

/** Parses a comma-separated list; items are trimmed and empty items dropped. */
export function parseList(text: string, _name: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** Parses one of a fixed set of words. */
export function parseChoice<C extends string>(text: string, name: string, choices: readonly C[]): C {
  const word = text.trim();
  if ((choices as readonly string[]).includes(word)) return word as C;
  throw invalidFlag(name, `one of ${choices.join(', ')}`, text);
}
