import { type DestinationStream, type Logger, pino } from 'pino';
import { build as prettyStream } from 'pino-pretty';
import type { FlagTable } from './flag-table.js';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Flags every long-running CLI shares; the app chooses the default level (see {@link createLogger}). */
export const LOG_FLAGS = {
  logLevel: {
    kind: 'choice',
    choices: LOG_LEVELS,
    env: 'VGG_LOG_LEVEL',
    defaultText: 'info',
    description: 'least severe log level written',
  },
} as const satisfies FlagTable;

export interface LoggerOptions {
  /** The program, as the `name` field of JSON lines. */
  name: string;
  /** Where logs go (the composition root passes process.stderr). */
  stream: NodeJS.WritableStream;
  /** `json`: one JSON object per line, for log collectors; `pretty`: a line per record, for people at a terminal. */
  format: 'json' | 'pretty';
  level?: LogLevel;
  /** Fields on every record, e.g. `{ worker }`. */
  base?: Record<string, unknown>;
  /** The project's one URI redaction policy (vgg-pipeline's redactUri), applied to URIs in fields and messages. */
  redactUri: (uri: string) => string;
}

/**
 * Fields that may carry a URI with credentials (a REDIS_URL with its password, a presigned URL): strings in them are
 * scanned and every URI found is redacted. `message` and `err.message` are there because errors quote URIs.
 */
const URI_PATHS = [
  'redis',
  'url',
  'uri',
  'source',
  'sources[*]',
  'manifest',
  'out',
  'message',
  'err.message',
  'err.stack',
  '*.uri',
  '*.url',
];
/** Fields whose whole value is a secret. */
const SECRET_PATHS = [
  'password',
  '*.password',
  'secretAccessKey',
  '*.secretAccessKey',
  'sessionToken',
  '*.sessionToken',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'headers.cookie',
];
const SECRET_KEYS = new Set(SECRET_PATHS.map((p) => p.split('.').at(-1)));
const URI_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;

/** `text` with every URI in it redacted by `redactUri`. */
export function redactUrisIn(text: string, redactUri: (uri: string) => string): string {
  return text.replace(URI_IN_TEXT, (uri) => redactUri(uri));
}

/**
 * A pino logger: levels, JSON lines or readable lines, fields on every record, and secrets removed by redaction
 * paths (and from messages) before anything is written. Only composition roots create loggers and decide the
 * format (JSON when the log stream is not a terminal); packages take a logger or report events.
 */
export function createLogger(options: LoggerOptions): Logger {
  const redactText = (text: string) => redactUrisIn(text, options.redactUri);
  const censor = (value: unknown, path: string[]): unknown => {
    if (SECRET_KEYS.has(path.at(-1))) return '[redacted]';
    if (typeof value === 'string') return redactText(value);
    return value;
  };
  const config = {
    name: options.name,
    level: options.level ?? 'info',
    base: options.base ?? {},
    redact: { paths: [...URI_PATHS, ...SECRET_PATHS], censor },
    hooks: {
      // Messages are not fields, so redaction paths do not reach them.
      logMethod(this: Logger, args: unknown[], method: (...args: unknown[]) => void) {
        method.apply(
          this,
          args.map((arg) => (typeof arg === 'string' ? redactText(arg) : arg)),
        );
      },
    },
  };
  if (options.format === 'json') return pino(config, options.stream as DestinationStream);
  const stream = prettyStream({
    destination: options.stream,
    sync: true,
    colorize: (options.stream as { isTTY?: boolean }).isTTY === true,
    translateTime: 'SYS:HH:MM:ss',
    ignore: 'pid,hostname,name',
    // The record's context in brackets, then the sentence; the other fields are for JSON consumers.
    messageFormat: (log, messageKey) => {
      const worker = log.worker === undefined ? '' : `[${String(log.worker)}] `;
      const chunk = log.chunk === undefined ? '' : `#${String(log.chunk)}`;
      const run = log.run === undefined ? '' : `${String(log.run)}${chunk}: `;
      return `${worker}${run}${String(log[messageKey] ?? '')}`;
    },
    hideObject: true,
    singleLine: true,
  });
  return pino(config, stream);
}
