import { describeInteger, type IntegerBounds } from './parse.js';

/** An environment as a plain map: composition roots pass `process.env`, tests their own. */
export type Env = Readonly<Record<string, string | undefined>>;

interface FlagCommon {
  /** What the flag does, for --help; the default and the environment twin are appended there. */
  description: string;
  /** The flag's name without dashes, when it is not the key in kebab-case (`threads` for `intraOpNumThreads`). */
  flag?: string;
  /** Placeholder of the value in --help, as in `--weights <uri>`. Default by kind: `value`, `n`, `list`. */
  valueName?: string;
  /** Keys of flags that cannot be set together with this one. */
  conflicts?: readonly string[];
  /** The environment twin, when it is not derived from the flag name; false for none. */
  env?: string | false;
  /** Documents a default that is applied elsewhere (by vgg-core, or computed); the value itself stays unset. */
  defaultText?: string;
}

/** A text value, optionally turned into `V` by `parse` (which throws for bad input). */
export interface StringFlag<V = string> extends FlagCommon {
  kind: 'string';
  default?: V;
  /** Fails when neither the flag, its twin nor a default gives a value. */
  required?: boolean;
  parse?: (text: string, name: string) => V;
}

export interface IntegerFlag extends FlagCommon, IntegerBounds {
  kind: 'integer';
  default?: number;
}

/** A switch: `--flag` sets it; its twin takes true/false/1/0/yes/no. Unset is false. */
export interface BooleanFlag extends FlagCommon {
  kind: 'boolean';
}

/** A comma-separated list. */
export interface ListFlag extends FlagCommon {
  kind: 'list';
  default?: readonly string[];
}

export interface ChoiceFlag<C extends string = string> extends FlagCommon {
  kind: 'choice';
  choices: readonly C[];
  default?: C;
}

export type FlagSpec = StringFlag<unknown> | IntegerFlag | BooleanFlag | ListFlag | ChoiceFlag;

/** Flags by key; the key is the name of the value in {@link FlagValues} and, in kebab-case, the flag's name. */
export type FlagTable = { readonly [key: string]: FlagSpec };

/** The type of one flag's value. */
export type FlagValue<F> = F extends { kind: 'string'; parse: (text: string, name: string) => infer V }
  ? V
  : F extends { kind: 'string' }
    ? string
    : F extends { kind: 'integer' }
      ? number
      : F extends { kind: 'boolean' }
        ? boolean
        : F extends { kind: 'list' }
          ? string[]
          : F extends { kind: 'choice'; choices: readonly (infer C)[] }
            ? C
            : never;

/** Flags that always have a value: switches, and flags with a default or marked required. */
type AlwaysSet<F> = F extends { kind: 'boolean' }
  ? true
  : F extends { default: unknown }
    ? true
    : F extends { required: true }
      ? true
      : false;

/** The values of a table's flags: present when given or defaulted, absent otherwise. */
export type FlagValues<T extends FlagTable> = {
  -readonly [K in keyof T as AlwaysSet<T[K]> extends true ? K : never]: FlagValue<T[K]>;
} & {
  -readonly [K in keyof T as AlwaysSet<T[K]> extends true ? never : K]?: FlagValue<T[K]>;
};

/** Values given in code: required flags must be there, the others may be left to their defaults. */
export type FlagInput<T extends FlagTable> = {
  -readonly [K in keyof T as T[K] extends { required: true } ? K : never]: FlagValue<T[K]>;
} & {
  -readonly [K in keyof T as T[K] extends { required: true } ? never : K]?: FlagValue<T[K]>;
};

/** Fills in what `input` leaves out: switches are false, flags with a default take it (lists are copied). */
export function withDefaults<T extends FlagTable>(table: T, input: FlagInput<T>): FlagValues<T> {
  const values: Record<string, unknown> = { ...input };
  for (const [key, spec] of Object.entries(table)) {
    if (values[key] !== undefined) continue;
    const value = defaultOf(spec);
    if (value === undefined) delete values[key];
    else values[key] = value;
  }
  return values as FlagValues<T>;
}

/** A flag's value when nothing gives one: false for switches, else its default (a copy), else undefined. */
export function defaultOf(spec: FlagSpec): unknown {
  if (spec.kind === 'boolean') return false;
  return Array.isArray(spec.default) ? [...spec.default] : spec.default;
}

/** `classifierWidth` -> `classifier-width`. */
export function kebabCase(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The flag of a table entry: `--classifier-width`. */
export function flagName(key: string, spec: FlagSpec): string {
  return `--${spec.flag ?? kebabCase(key)}`;
}

/** The environment twin of a table entry: `--classifier-width` with prefix `VGG_` is `VGG_CLASSIFIER_WIDTH`. */
export function envName(key: string, spec: FlagSpec, prefix: string | undefined): string | undefined {
  if (spec.env === false || (prefix === undefined && spec.env === undefined)) return undefined;
  return spec.env ?? `${prefix}${(spec.flag ?? kebabCase(key)).replace(/-/g, '_').toUpperCase()}`;
}

/**
 * The first pair of keys that are both set although one lists the other in `conflicts`, or null. A value is set
 * when it is present and not `false`; callers name the flags in their own error.
 */
export function findConflict(
  table: FlagTable,
  values: Readonly<Record<string, unknown>>,
): [string, string] | null {
  const isSet = (key: string) => values[key] !== undefined && values[key] !== false;
  for (const [key, spec] of Object.entries(table)) {
    if (!isSet(key)) continue;
    for (const other of spec.conflicts ?? []) {
      if (other in table && isSet(other)) return [key, other];
    }
  }
  return null;
}

/**
 * Checks a value given in code (not parsed from text) against its flag: kind, bounds and choices. Returns what was
 * expected when the value does not fit, else null; callers word their own error around it.
 */
export function expectedValue(spec: FlagSpec, value: unknown): string | null {
  switch (spec.kind) {
    case 'integer': {
      const fits =
        Number.isSafeInteger(value) &&
        (spec.min === undefined || (value as number) >= spec.min) &&
        (spec.max === undefined || (value as number) <= spec.max);
      return fits ? null : describeInteger(spec);
    }
    case 'boolean':
      return typeof value === 'boolean' ? null : 'boolean';
    case 'list':
      return Array.isArray(value) && value.every((item) => typeof item === 'string')
        ? null
        : 'list of strings';
    case 'choice':
      return (spec.choices as readonly unknown[]).includes(value)
        ? null
        : `one of ${spec.choices.join(', ')}`;
    case 'string':
      return spec.parse !== undefined || (typeof value === 'string' && value !== '')
        ? null
        : 'non-empty string';
  }
}
