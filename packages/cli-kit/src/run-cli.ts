import { type Command, CommanderError } from 'commander';
import { isUsageError } from './errors.js';

/** Exit statuses shared by every vgg CLI. */
export const EXIT_OK = 0;
/** The command ran and failed (Redis unreachable, a run that does not exist, …). */
export const EXIT_FAILURE = 1;
/** The command was called wrongly: a bad or missing flag, or options that cannot work together. */
export const EXIT_USAGE = 2;

/** Options of {@link runCli}. */
export interface RunCliOptions {
  /** Where messages go. */
  stderr: { write(text: string): unknown };
  /** Other errors that are usage errors (exit 2), e.g. a run spec rejected at submit. Default none. */
  isUsage?: (error: unknown) => boolean;
}

/**
 * Parses `argv` and runs the chosen action, then returns the exit status: 0 on success (and for --help), 2 for
 * usage errors (commander's own, {@link UsageError}s and whatever `isUsage` accepts), 1 for any other failure.
 * Messages are printed as `<program>: <message>`. Only the caller exits.
 */
export async function runCli(
  program: Command,
  argv: readonly string[],
  options: RunCliOptions,
): Promise<number> {
  overrideExits(program);
  try {
    await program.parseAsync(argv);
    return EXIT_OK;
  } catch (error) {
    // Commander has printed its own message (or the help) already.
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    const message = error instanceof Error ? error.message : String(error);
    options.stderr.write(`${program.name()}: ${message}\n`);
    if (isUsageError(error) || options.isUsage?.(error)) {
      options.stderr.write(`(see ${program.name()} --help)\n`);
      return EXIT_USAGE;
    }
    return EXIT_FAILURE;
  }
}

function overrideExits(command: Command): void {
  command.exitOverride();
  for (const sub of command.commands) overrideExits(sub);
}
