/**
 * Query parameters that carry credentials in presigned or tokenised URLs: AWS SigV4 and SigV2, Google Cloud
 * Storage, Azure SAS, and common API-key names.
 */
const SECRET_PARAM =
  /^(x-amz-(signature|credential|security-token)|signature|awsaccesskeyid|x-goog-(signature|credential)|googleaccessid|sig|se|sp|sv|st|sr|skoid|sktid|skt|ske|sks|skv|token|access_token|auth|key|api_key|apikey|password|secret)$/i;

/**
 * The form of an input URI that may be written to outputs: http(s) URLs lose their user:password and the query
 * parameters that carry credentials (presigned URLs); other parameters stay, so distinct inputs stay distinct.
 * Local paths and s3:// URIs carry no credentials and are returned unchanged.
 */
export function outputUri(uri: string): string {
  if (!/^https?:\/\//i.test(uri)) return uri;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return uri.replace(/\/\/[^/@]*@/, '//').replace(/[?#].*$/s, '');
  }
  url.username = '';
  url.password = '';
  for (const name of [...url.searchParams.keys()]) {
    if (SECRET_PARAM.test(name)) url.searchParams.delete(name);
  }
  url.hash = '';
  return url.toString();
}
