// Flag checks shared by the bench scripts: cli-kit's parser (the CLIs' messages), exiting 2 as the CLIs do.
import { parseInteger } from 'vgg-cli-kit';

/** `flags[name]` as a positive integer, or exits 2 with "Expected positive integer for --name but received …". */
export function positiveFlag(flags, name) {
  try {
    return parseInteger(String(flags[name]), `--${name}`, { min: 1 });
  } catch (error) {
    console.error(error.message);
    process.exit(2);
  }
}
