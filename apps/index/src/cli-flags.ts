import { InvalidArgumentError, Option } from 'commander';

/**
 * An option with its environment twin derived from the flag: `--max-part-vectors <n>` ↔ `VGG_INDEX_MAX_PART_VECTORS`
 * (a flag two commands use differently gets a command prefix: `VGG_INDEX_DEDUP_OUT`).
 */
export function indexOption(flags: string, description: string, envPrefix = 'VGG_INDEX_'): Option {
  const option = new Option(flags, description);
  const long = option.long?.replace(/^--/, '');
  if (long !== undefined) option.env(`${envPrefix}${long.replace(/-/g, '_').toUpperCase()}`);
  return option;
}

export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n <= 0) {
    throw new InvalidArgumentError(`Expected positive integer but received ${JSON.stringify(value)}.`);
  }
  return n;
}

export function parseNonNegativeNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new InvalidArgumentError(`Expected non-negative number but received ${JSON.stringify(value)}.`);
  }
  return n;
}
