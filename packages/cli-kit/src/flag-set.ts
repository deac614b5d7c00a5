import { type Command, Option } from 'commander';
import { isUsageError, UsageError } from './errors.js';
import {
  type Env,
  envName,
  type FlagSpec,
  type FlagTable,
  type FlagValue,
  type FlagValues,
  defaultOf,
  findConflict,
  flagName,
} from './flag-table.js';
import { parseBoolean, parseChoice, parseInteger, parseList } from './parse.js';

/** Options of a {@link FlagSet}. */
export interface FlagSetOptions<T extends FlagTable> {
  /** Prefix of the environment twins, e.g. `VGG_`. Default: no twins (except entries naming their own). */
  envPrefix?: string;
  /** Defaults that replace the table's for this command; --help shows them. Default none. */
  defaults?: { [K in keyof T]?: FlagValue<T[K]> };
}

const VALUE_NAMES: Record<FlagSpec['kind'], string> = {
  string: 'value',
  integer: 'n',
  boolean: '',
  list: 'list',
  choice: 'value',
};

/**
 * A table of flags as one command takes them. {@link addTo} declares them on a commander command (with help text
 * that shows each default and environment twin); {@link read} returns their typed values after parsing, from the
 * command line first, then the environment twin, then the default. Commander only collects the raw text, so every
 * value is parsed and every message worded here, the same way for flags and their twins.
 */
export class FlagSet<T extends FlagTable> {
  readonly #options: FlagSetOptions<T>;
  readonly #attributes = new Map<string, string>();

  constructor(
    readonly table: T,
    options: FlagSetOptions<T> = {},
  ) {
    this.#options = options;
  }

  /** The flag of a key, e.g. `--batch-size`. */
  flagOf(key: keyof T & string): string {
    return flagName(key, this.#spec(key));
  }

  /** The environment twin of a key, e.g. `VGG_BATCH_SIZE`, or undefined. */
  envOf(key: keyof T & string): string | undefined {
    return envName(key, this.#spec(key), this.#options.envPrefix);
  }

  /** Declares every flag on `command`. */
  addTo(command: Command): Command {
    for (const [key, spec] of Object.entries(this.table)) {
      const value = spec.kind === 'boolean' ? '' : ` <${spec.valueName ?? VALUE_NAMES[spec.kind]}>`;
      const option = new Option(`${flagName(key, spec)}${value}`, this.#help(key, spec));
      this.#attributes.set(key, option.attributeName());
      command.addOption(option);
    }
    return command;
  }

  /** The typed values after `command` parsed its arguments. Throws {@link UsageError}. */
  read(command: Command, env: Env): FlagValues<T> {
    const values: Record<string, unknown> = {};
    for (const [key, spec] of Object.entries(this.table)) {
      const value = this.#value(command, env, key, spec);
      if (value !== undefined) values[key] = value;
    }
    const conflict = findConflict(this.table, values);
    if (conflict) {
      const [a, b] = conflict.map((key) => this.flagOf(key));
      throw new UsageError(a ?? null, `Expected at most one of ${a} and ${b} but received both`);
    }
    return values as FlagValues<T>;
  }

  #value(command: Command, env: Env, key: string, spec: FlagSpec): unknown {
    const flag = flagName(key, spec);
    const attribute = this.#attributes.get(key) ?? key;
    const raw = command.getOptionValue(attribute) as string | boolean | undefined;
    // commander gives a lone `--no-x` switch the default true; only a value from the command line counts here.
    const given = raw !== undefined && command.getOptionValueSource(attribute) !== 'default';
    if (given) return spec.kind === 'boolean' ? true : parseFlag(spec, String(raw), flag);
    const twin = envName(key, spec, this.#options.envPrefix);
    const text = twin === undefined ? undefined : env[twin];
    // An empty variable counts as unset, as for the AWS variables.
    if (twin !== undefined && text !== undefined && text !== '') return parseFlag(spec, text, twin);
    const defaults = this.#options.defaults as Record<string, unknown> | undefined;
    if (defaults !== undefined && key in defaults) return defaults[key];
    const fallback = defaultOf(spec);
    if (fallback !== undefined) return fallback;
    if (spec.kind === 'string' && spec.required) {
      const value = ` <${spec.valueName ?? VALUE_NAMES.string}>`;
      throw new UsageError(
        flag,
        `Missing ${flag}${value}${twin ? ` (or ${twin})` : ''}: ${spec.description}`,
      );
    }
    return undefined;
  }

  #help(key: string, spec: FlagSpec): string {
    const extra: string[] = [];
    const defaults = this.#options.defaults as Record<string, unknown> | undefined;
    const override = defaults !== undefined && key in defaults ? defaults[key] : undefined;
    const shown = override ?? (spec.kind === 'boolean' ? undefined : spec.default);
    if (shown !== undefined && !(Array.isArray(shown) && shown.length === 0)) {
      extra.push(`default: ${Array.isArray(shown) ? shown.join(',') : String(shown)}`);
    } else if (spec.defaultText !== undefined) {
      extra.push(`default: ${spec.defaultText}`);
    } else if (spec.kind === 'string' && spec.required) {
      extra.push('required');
    }
    if (spec.kind === 'choice') extra.push(`one of ${spec.choices.join(', ')}`);
    const twin = envName(key, spec, this.#options.envPrefix);
    if (twin !== undefined) extra.push(`env: ${twin}`);
    return extra.length === 0 ? spec.description : `${spec.description} (${extra.join('; ')})`;
  }

  #spec(key: string): FlagSpec {
    const spec = this.table[key];
    if (spec === undefined) throw new TypeError(`No flag ${key} in this table`);
    return spec;
  }
}

/** Parses one flag's text; `name` is the flag or environment variable the text came from. */
export function parseFlag(spec: FlagSpec, text: string, name: string): unknown {
  switch (spec.kind) {
    case 'integer':
      return parseInteger(text, name, spec);
    case 'boolean':
      return parseBoolean(text, name);
    case 'list':
      return parseList(text, name);
    case 'choice':
      return parseChoice(text, name, spec.choices);
    case 'string': {
      if (spec.parse === undefined) return text;
      try {
        return spec.parse(text, name);
      } catch (cause) {
        if (isUsageError(cause)) throw cause;
        throw new UsageError(name, cause instanceof Error ? cause.message : String(cause), { cause });
      }
    }
  }
}
