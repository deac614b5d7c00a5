import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from 'vgg-pipeline';
import { inject } from 'vitest';
import { uniqueName } from './unique-name.js';

let client: S3Client | undefined;

/** A client for the fauxqs server started by global-setup.ts; shared within a test file's worker. */
export function s3ClientForTests(): S3Client {
  client ??= createS3Client({
    endpoint: inject('s3Endpoint'),
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    // Fail fast: a test server that errors will not recover by waiting.
    maxAttempts: 2,
    retryMode: 'standard',
  });
  return client;
}

/** Creates a bucket on the test S3 server and returns its name (unique unless given). */
export async function createTestBucket(name: string = uniqueName('bucket')): Promise<string> {
  await s3ClientForTests().send(new CreateBucketCommand({ Bucket: name }));
  return name;
}
