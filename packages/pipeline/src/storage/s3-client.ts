import { S3Client } from '@aws-sdk/client-s3';
import { type Env, parseBoolean } from 'vgg-cli-kit';
import { invalidOption } from '../errors.js';

/** Options of {@link createS3Client}. Credentials come from the SDK's default chain unless given. */
export interface S3ClientOptions {
  /** AWS region. Default: the SDK's resolution (`AWS_REGION`, profile), else `us-east-1`. */
  region?: string;
  /** Custom endpoint for S3-compatible servers (MinIO, fauxqs, R2), e.g. `http://127.0.0.1:9000`. Default AWS. */
  endpoint?: string;
  /**
   * Path-style URLs (`host/bucket/key`) instead of virtual-hosted ones (`bucket.host/key`). Default true when
   * `endpoint` is set (custom servers rarely resolve bucket subdomains), false otherwise.
   */
  forcePathStyle?: boolean;
  /** Attempts per request including the first, with backoff. Default 8: batch jobs prefer waiting to failing. */
  maxAttempts?: number;
  /** SDK retry strategy. `adaptive` also rate-limits the client when S3 throttles (503 SlowDown). Default `adaptive`. */
  retryMode?: 'standard' | 'adaptive';
  /** Milliseconds to establish a TCP/TLS connection. Default 10_000. */
  connectTimeoutMs?: number;
  /** Milliseconds a connection may sit idle while a request or response is in flight. Default 30_000. */
  requestTimeoutMs?: number;
  /** Static credentials, mainly for tests and local servers. Default: the SDK's default credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/** Creates an S3 client tuned for batch work: many attempts, adaptive retries, bounded timeouts. */
export function createS3Client(options: S3ClientOptions = {}): S3Client {
  const maxAttempts = options.maxAttempts ?? 8;
  const retryMode = options.retryMode ?? 'adaptive';
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw invalidOption('maxAttempts', 'positive integer', maxAttempts);
  }
  if (retryMode !== 'standard' && retryMode !== 'adaptive') {
    throw invalidOption('retryMode', "one of 'standard', 'adaptive'", retryMode);
  }
  if (!Number.isInteger(connectTimeoutMs) || connectTimeoutMs < 1) {
    throw invalidOption('connectTimeoutMs', 'positive integer', connectTimeoutMs);
  }
  if (!Number.isInteger(requestTimeoutMs) || requestTimeoutMs < 1) {
    throw invalidOption('requestTimeoutMs', 'positive integer', requestTimeoutMs);
  }
  if (options.endpoint !== undefined) {
    let protocol: string | undefined;
    try {
      protocol = new URL(options.endpoint).protocol;
    } catch {
      protocol = undefined;
    }
    if (protocol !== 'http:' && protocol !== 'https:') {
      throw invalidOption('endpoint', 'http(s):// URL', options.endpoint);
    }
  }
  return new S3Client({
    ...(options.region !== undefined ? { region: options.region } : {}),
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
    ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
    forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
    maxAttempts,
    retryMode,
    requestHandler: {
      connectionTimeout: connectTimeoutMs,
      // socketTimeout is an idle timeout, so large uploads and downloads are not cut off while making progress.
      socketTimeout: requestTimeoutMs,
    },
  });
}

/**
 * S3 settings from the AWS conventions: `AWS_ENDPOINT_URL_S3` (else `AWS_ENDPOINT_URL`) for S3-compatible
 * servers, `AWS_REGION`/`AWS_DEFAULT_REGION`, and `S3_FORCE_PATH_STYLE` (true/false, 1/0 or yes/no).
 * Credentials are left to the SDK's default chain.
 */
export function s3ClientOptionsFromEnv(env: Env): S3ClientOptions {
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined;
  const pathStyle = env.S3_FORCE_PATH_STYLE;
  const forcePathStyle =
    pathStyle === undefined || pathStyle === '' ? undefined : parseBoolean(pathStyle, 'S3_FORCE_PATH_STYLE');
  return {
    ...(endpoint ? { endpoint } : {}),
    region: region ?? 'us-east-1',
    ...(forcePathStyle !== undefined ? { forcePathStyle } : {}),
  };
}

/** What an S3 SDK error means for the caller. */
export interface S3ErrorInfo {
  /** HTTP status, when a response arrived. */
  status: number | undefined;
  /** SDK error name (`NoSuchKey`, `AccessDenied`, `SlowDown`, `TimeoutError`, …) or Node error code. */
  name: string;
  /** Key or object missing (404 NoSuchKey / NotFound). */
  notFound: boolean;
  /** Bucket missing. */
  noSuchBucket: boolean;
  /** 401/403. */
  forbidden: boolean;
  /** 5xx, 429, throttling, timeouts, connection resets: a later retry may succeed. */
  transient: boolean;
}

/** Socket error codes after which a retry may succeed; shared by S3 and http(s) fetching. */
export const TRANSIENT_SOCKET_CODES: readonly string[] = [
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
];

const TRANSIENT_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'InternalError',
  'ServiceUnavailable',
  'RequestLimitExceeded',
  ...TRANSIENT_SOCKET_CODES,
]);

/** Classifies an error thrown by an S3Client command (after the SDK's own retries). */
export function classifyS3Error(error: unknown): S3ErrorInfo {
  const record = (typeof error === 'object' && error !== null ? error : {}) as {
    name?: unknown;
    code?: unknown;
    Code?: unknown;
    $metadata?: { httpStatusCode?: unknown };
    $retryable?: unknown;
  };
  const status =
    typeof record.$metadata?.httpStatusCode === 'number' ? record.$metadata.httpStatusCode : undefined;
  const code = typeof record.code === 'string' ? record.code : undefined;
  const name =
    typeof record.Code === 'string'
      ? record.Code
      : typeof record.name === 'string' && record.name !== 'Error'
        ? record.name
        : (code ?? 'Error');
  const noSuchBucket = name === 'NoSuchBucket';
  const notFound = !noSuchBucket && (status === 404 || name === 'NoSuchKey' || name === 'NotFound');
  const forbidden = status === 401 || status === 403 || name === 'AccessDenied' || name === 'Forbidden';
  const transient =
    !notFound &&
    !noSuchBucket &&
    !forbidden &&
    ((status !== undefined && (status >= 500 || status === 429 || status === 408)) ||
      TRANSIENT_NAMES.has(name) ||
      (code !== undefined && TRANSIENT_NAMES.has(code)) ||
      record.$retryable !== undefined);
  return { status, name, notFound, noSuchBucket, forbidden, transient };
}
