import { type LookupAddress, lookup as dnsLookup } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { ForbiddenAddressError, invalidOption } from '../errors.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

export interface NetworkPolicyOptions {
  /**
   * Hosts that may be fetched even though they resolve to a refused address: exact names (`images.internal`) or
   * suffixes (`.corp.example`). Default none.
   */
  allowHosts?: readonly string[];
  /**
   * Address ranges that are allowed although refused by default, in CIDR form (`10.1.0.0/16`, `::1/128`; a bare
   * address is one host). Each is checked with {@link parseCidr}. Default none.
   */
  allowCidrs?: readonly string[];
}

/** A parsed CIDR range: network address and prefix length; `toString()` gives the canonical `net/prefix`. */
export interface CidrRange {
  readonly address: Address;
  readonly prefix: number;
  toString(): string;
}

const CIDR_EXPECTED =
  'CIDR range like 10.1.0.0/16 or fd00::/8 (an address, "/", a prefix length of 0-32 for IPv4 or 0-128 for IPv6, host bits zero)';

/**
 * Parses one CIDR range strictly, unlike `BlockList` or ipaddr.js alone: `10.1.0.0/` (once read as `/0`, allowing
 * every address), shortened or hex IPv4 spellings, zero-padded or out-of-range prefixes and set host bits are
 * refused. A bare address means that one host. `name` is the flag or option named in the error.
 */
export function parseCidr(text: string, name: string): CidrRange {
  const fail = (hint = '') => invalidOption(name, `${CIDR_EXPECTED}${hint}`, text);
  const match = /^([^/]+)(?:\/(0|[1-9]\d{0,2}))?$/.exec(text);
  const net = match?.[1];
  // node:net's isIP accepts only canonical spellings (dotted-quad IPv4, RFC 4291 IPv6, no zone).
  const family = net !== undefined && !net.includes('%') ? isIP(net) : 0;
  if (match === null || net === undefined || family === 0) throw fail();
  const bits = family === 4 ? 32 : 128;
  const prefix = match[2] === undefined ? bits : Number(match[2]);
  if (prefix > bits) throw fail();
  const address = ipaddr.parse(net);
  const network =
    family === 4
      ? ipaddr.IPv4.networkAddressFromCIDR(`${net}/${prefix}`)
      : ipaddr.IPv6.networkAddressFromCIDR(`${net}/${prefix}`);
  if (network.toString() !== address.toString()) {
    throw fail(`; did you mean ${network.toString()}/${prefix}?`);
  }
  return { address, prefix, toString: () => `${address.toString()}/${prefix}` };
}

/**
 * Whether an address lies in a special-purpose range, which is where server-side request forgery does harm:
 * everything ipaddr.js's `range()` does not call `unicast` (loopback, private, link-local with the cloud metadata
 * address, unique-local, CGNAT, multicast, reserved and documentation ranges, NAT64, 6to4, Teredo, …, taken from
 * the IANA special-purpose registries by that library rather than kept here by hand). IPv4-mapped IPv6 addresses
 * are judged as the IPv4 address they carry. The one addition is `::/96`, the deprecated IPv4-compatible
 * addresses (RFC 4291 2.5.5.1: `::127.0.0.1`), which ipaddr.js calls unicast but some stacks route to IPv4.
 */
function isSpecialPurpose(address: Address): boolean {
  if (address.kind() === 'ipv6') {
    const v6 = address as ipaddr.IPv6;
    if (v6.parts.slice(0, 6).every((part) => part === 0)) return true;
  }
  return address.range() !== 'unicast';
}

/**
 * Guards http(s) fetches against server-side request forgery. The check runs on the address actually connected
 * to, after DNS resolution (see {@link NetworkPolicy.lookup}), so DNS tricks and alternative IP spellings (decimal,
 * octal, hex, IPv4-mapped IPv6) meet the same rule as a plain address.
 */
export class NetworkPolicy {
  private readonly allowed: CidrRange[];
  private readonly allowHosts: readonly string[];

  constructor(options: NetworkPolicyOptions = {}) {
    this.allowed = (options.allowCidrs ?? []).map((cidr) => parseCidr(cidr, 'allowCidrs'));
    this.allowHosts = (options.allowHosts ?? []).map((h) => h.toLowerCase());
  }

  /** Whether connecting to `address` (an IP literal) on behalf of `host` is allowed. */
  isAllowed(address: string, host = address): boolean {
    const name = host.toLowerCase().replace(/^\[|\]$/g, '');
    if (
      this.allowHosts.some((h) => (h.startsWith('.') ? name.endsWith(h) || name === h.slice(1) : name === h))
    ) {
      return true;
    }
    const ip = normalise(address);
    if (ip === null) return false;
    if (
      this.allowed.some(
        (range) => range.address.kind() === ip.kind() && ip.match(range.address, range.prefix),
      )
    ) {
      return true;
    }
    return !isSpecialPurpose(ip);
  }

  /**
   * A `dns.lookup` replacement for sockets: resolves, then refuses the connection when any resolved address is
   * forbidden (all are checked, so a name cannot smuggle one bad address among good ones).
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) {
        callback(error, '', 0);
        return;
      }
      const bad = addresses.find((a) => !this.isAllowed(a.address, hostname));
      if (bad) {
        callback(new ForbiddenAddressError(hostname, bad.address), '', 0);
        return;
      }
      if (options.all) {
        (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      } else {
        const first = addresses[0]!;
        callback(null, first.address, first.family);
      }
    });
  };
}

/** An IP literal as ipaddr.js reads it, IPv4-mapped IPv6 turned into IPv4; null for anything else. */
function normalise(address: string): Address | null {
  const bare = address.replace(/^\[|\]$/g, '');
  if (!ipaddr.isValid(bare)) return null;
  return ipaddr.process(bare);
}
