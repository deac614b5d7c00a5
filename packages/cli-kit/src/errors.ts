/**
 * Errors of vgg-cli-kit. `UsageError` (code `CLI_USAGE`) is a mistake in how a command was called: a flag value
 * that does not parse, a missing required flag, two flags that exclude each other. CLIs exit with status 2 for it.
 * Match on the code across packages with {@link isUsageError}.
 */
export class UsageError extends Error {
  readonly code = 'CLI_USAGE' as const;
  /** The flag or environment variable at fault, e.g. `--batch-size` or `VGG_BATCH_SIZE`; null when none. */
  readonly flag: string | null;
  constructor(flag: string | null, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UsageError';
    this.flag = flag;
  }
}

/** "Expected positive integer for --batch-size but received 0", as sharp words it. */
export function invalidFlag(flag: string, expected: string, received: string): UsageError {
  return new UsageError(flag, `Expected ${expected} for ${flag} but received ${describeText(received)}`);
}

/** Whether `error` is a {@link UsageError}, from any copy of this package. */
export function isUsageError(error: unknown): error is UsageError {
  return error instanceof Error && (error as { code?: unknown }).code === 'CLI_USAGE';
}

/** Numbers as they were typed, anything else quoted, so `0` and `"abc"` both read naturally. */
function describeText(text: string): string {
  return /^-?\d+(\.\d+)?$/.test(text) ? text : JSON.stringify(text);
}
