import { describe, expect, it } from 'vitest';
import { NetworkPolicy, parseCidr } from './network-policy.js';

describe('NetworkPolicy special-purpose ranges', () => {
  const policy = new NetworkPolicy();

  it.each([
    ['::127.0.0.1', 'IPv4-compatible loopback'],
    ['::7f00:1', 'IPv4-compatible loopback, hex'],
    ['::a9fe:a9fe', 'IPv4-compatible metadata address'],
    ['fec0::1', 'deprecated site-local'],
    ['64:ff9b:1::a00:1', 'local-use NAT64 (RFC 8215)'],
    ['64:ff9b::7f00:1', 'well-known NAT64'],
    ['2001::1', 'Teredo'],
    ['2001:db8::1', 'documentation'],
    ['2002:7f00:1::1', '6to4'],
    ['100::1', 'discard-only'],
    ['::ffff:0:7f00:1', 'IPv4-translated (RFC 6145)'],
    ['192.0.2.1', 'TEST-NET-1'],
    ['198.51.100.7', 'TEST-NET-2'],
    ['203.0.113.9', 'TEST-NET-3'],
    ['255.255.255.255', 'broadcast'],
    ['192.88.99.1', '6to4 relay anycast'],
    ['::ffff:192.0.2.1', 'IPv4-mapped TEST-NET-1'],
    ['::ffff:10.0.0.1', 'IPv4-mapped private'],
    ['fe80::1%eth0', 'link-local with a zone'],
  ])('refuses %s (%s)', (address) => {
    expect(policy.isAllowed(address)).toBe(false);
  });

  it.each(['8.8.8.8', '1.1.1.1', '::ffff:8.8.8.8', '2606:4700:4700::1111', '2a00:1450:4001:82b::200e'])(
    'allows public unicast %s',
    (address) => {
      expect(policy.isAllowed(address)).toBe(true);
    },
  );

  it('opens an IPv4 range for its IPv4-mapped spelling too', () => {
    const open = new NetworkPolicy({ allowCidrs: ['10.1.0.0/16'] });
    expect(open.isAllowed('::ffff:10.1.2.3')).toBe(true);
    expect(open.isAllowed('::ffff:10.2.2.3')).toBe(false);
  });
});

describe('parseCidr', () => {
  it.each([
    ['10.1.0.0/', 'an empty prefix length read as /0 once allowed every address'],
    ['10.1.0.0/abc', 'a prefix that is not a number'],
    ['10.1.0.0/33', 'a prefix longer than 32 bits'],
    ['fd00::/129', 'a prefix longer than 128 bits'],
    ['10.1/16', 'a shortened IPv4 address'],
    ['0x0a.0.0.0/8', 'a hex IPv4 spelling'],
    ['10.1.0.0/ 16', 'a space inside'],
    ['10.1.0.0/016', 'a zero-padded prefix'],
    ['10.1.2.3/16', 'host bits set'],
    ['example.com/8', 'a name'],
    ['/8', 'no address'],
    ['', 'nothing'],
  ])('rejects %j (%s), naming the flag and what is expected', (text) => {
    expect(() => parseCidr(text, '--allow-cidrs')).toThrow(
      `for --allow-cidrs but received ${JSON.stringify(text)}`,
    );
    expect(() => parseCidr(text, '--allow-cidrs')).toThrow(
      /^Expected CIDR range like 10\.1\.0\.0\/16 or fd00::\/8/,
    );
  });

  it('suggests the network address when host bits are set', () => {
    expect(() => parseCidr('10.1.2.3/16', '--allow-cidrs')).toThrow(/10\.1\.0\.0\/16/);
  });

  it.each([
    ['10.1.0.0/16', '10.1.0.0/16'],
    ['127.0.0.1', '127.0.0.1/32'],
    ['fd00::/8', 'fd00::/8'],
    ['::1', '::1/128'],
    ['0.0.0.0/0', '0.0.0.0/0'],
  ])('accepts %j as %s', (text, canonical) => {
    expect(parseCidr(text, '--allow-cidrs').toString()).toBe(canonical);
  });

  it('refuses a malformed allowCidrs entry when the policy is built', () => {
    expect(() => new NetworkPolicy({ allowCidrs: ['10.1.0.0/'] })).toThrow(
      'for allowCidrs but received "10.1.0.0/"',
    );
  });
});
