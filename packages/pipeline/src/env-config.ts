import type { S3ClientOptions } from './s3-client.js';

/** Environment as a plain map, so composition roots pass `process.env` and tests pass their own. */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * S3 settings from the AWS conventions: `AWS_ENDPOINT_URL_S3` (else `AWS_ENDPOINT_URL`) for S3-compatible
 * servers, `AWS_REGION`/`AWS_DEFAULT_REGION`, and `S3_FORCE_PATH_STYLE` (`true`/`false`). Credentials are left to
 * the SDK's default chain.
 */
export function s3ClientOptionsFromEnv(env: Env): S3ClientOptions {
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined;
  const pathStyle = env.S3_FORCE_PATH_STYLE;
  if (pathStyle !== undefined && pathStyle !== '' && pathStyle !== 'true' && pathStyle !== 'false') {
    throw new Error(
      `Expected true or false for S3_FORCE_PATH_STYLE but received ${JSON.stringify(pathStyle)}`,
    );
  }
  return {
    ...(endpoint ? { endpoint } : {}),
    region: region ?? 'us-east-1',
    ...(pathStyle === 'true' || pathStyle === 'false' ? { forcePathStyle: pathStyle === 'true' } : {}),
  };
}
