import { SourceError } from '../errors.js';

/** At most this many URIs from one brace pattern: a typo such as {0..99999999} fails instead of filling memory. */
export const MAX_BRACE_EXPANSION = 10_000_000;

// Only ranges and comma lists are patterns; other braces (a file named `{draft}.jpg`) are literal.
const BRACE = /\{(-?\d+\.\.-?\d+|[^{},]*(?:,[^{},]*)+)\}/;

/** True when the source holds a brace group as WebDataset writes them: `{00000..00999}` or `{a,b}`. */
export function hasBraces(source: string): boolean {
  return BRACE.test(source);
}

/**
 * Expands brace groups as WebDataset and img2dataset (braceexpand) do, lazily and in order:
 * `shards/{00000..00002}.tar` gives `shards/00000.tar`, `shards/00001.tar`, `shards/00002.tar` (zero padding is
 * kept: the width of the first bound when it starts with 0), `{a,b}` alternatives, and several groups multiply
 * out left to right. Descending ranges count down.
 */
export function* expandBraces(source: string): Generator<string> {
  const match = BRACE.exec(source);
  if (!match) {
    yield source;
    return;
  }
  const before = source.slice(0, match.index);
  const after = source.slice(match.index + match[0].length);
  for (const choice of alternativesOf(source, match[1] as string)) {
    for (const rest of expandBraces(after)) yield before + choice + rest;
  }
}

/** How many URIs a pattern expands to, checked before listing so a runaway range is refused up front. */
export function countBraces(source: string): number {
  let count = 1;
  let rest = source;
  for (let match = BRACE.exec(rest); match; match = BRACE.exec(rest)) {
    count *= sizeOf(match[1] as string);
    if (count > MAX_BRACE_EXPANSION) {
      throw new SourceError(
        'SOURCE_INVALID',
        source,
        `brace pattern expands to more than ${MAX_BRACE_EXPANSION} URIs; split it or list the inputs in a manifest`,
      );
    }
    rest = rest.slice(match.index + match[0].length);
  }
  return count;
}

const RANGE = /^(-?\d+)\.\.(-?\d+)$/;

function sizeOf(body: string): number {
  const range = RANGE.exec(body);
  if (range) return Math.abs(Number(range[2]) - Number(range[1])) + 1;
  return body.split(',').length;
}

function* alternativesOf(source: string, body: string): Generator<string> {
  const range = RANGE.exec(body);
  if (!range) {
    yield* body.split(',');
    return;
  }
  const [first, last] = [range[1] as string, range[2] as string];
  const from = Number(first);
  const to = Number(last);
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to)) {
    throw new SourceError('SOURCE_INVALID', source, `brace range {${body}} has bounds too large`);
  }
  const padded = /^-?0\d/.test(first) || /^-?0\d/.test(last);
  const width = padded ? Math.max(first.replace('-', '').length, last.replace('-', '').length) : 0;
  const step = from <= to ? 1 : -1;
  for (let n = from; step > 0 ? n <= to : n >= to; n += step) {
    const digits = String(Math.abs(n)).padStart(width, '0');
    yield n < 0 ? `-${digits}` : digits;
  }
}
