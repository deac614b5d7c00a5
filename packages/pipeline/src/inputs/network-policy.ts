import { type LookupAddress, lookup as dnsLookup } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { ForbiddenAddressError } from '../errors.js';

export interface NetworkPolicyOptions {
  /**
   * Hosts that may be fetched even though they resolve to a refused address: exact names (`images.internal`) or
   * suffixes (`.corp.example`). Default none.
   */
  allowHosts?: readonly string[];
  /** Address ranges that are allowed although refused by default, in CIDR form (`10.1.0.0/16`, `::1/128`). */
  allowCidrs?: readonly string[];
}

/** Ranges refused by default: where server-side request forgery does harm. */
const REFUSED_V4: [string, number][] = [
  ['0.0.0.0', 8], // "this" network; 0.0.0.0 reaches loopback on Linux
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, including the cloud metadata address 169.254.169.254
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved and broadcast
];
const REFUSED_V6: [string, number][] = [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
  ['64:ff9b::', 96], // NAT64 can reach IPv4 internals
  ['2002::', 16], // 6to4 embeds IPv4
];

/**
 * Guards http(s) inputs against server-side request forgery. The check runs on the address actually connected to,
 * after DNS resolution (see {@link NetworkPolicy.lookup}), so DNS tricks and alternative IP spellings (decimal,
 * octal, hex, IPv4-mapped IPv6) meet the same rule as a plain address.
 */
export class NetworkPolicy {
  private readonly refused = new BlockList();
  private readonly allowed = new BlockList();
  private readonly allowHosts: readonly string[];

  constructor(options: NetworkPolicyOptions = {}) {
    for (const [net, prefix] of REFUSED_V4) this.refused.addSubnet(net, prefix, 'ipv4');
    for (const [net, prefix] of REFUSED_V6) this.refused.addSubnet(net, prefix, 'ipv6');
    for (const cidr of options.allowCidrs ?? []) {
      const [net, bits] = cidr.split('/');
      const family = net ? isIP(net) : 0;
      const prefix = Number(bits ?? (family === 6 ? 128 : 32));
      if (
        !net ||
        family === 0 ||
        !Number.isInteger(prefix) ||
        prefix < 0 ||
        prefix > (family === 6 ? 128 : 32)
      ) {
        throw new Error(
          `Expected CIDR like 10.0.0.0/8 or fd00::/8 for allowCidrs but received ${JSON.stringify(cidr)}`,
        );
      }
      this.allowed.addSubnet(net, prefix, family === 6 ? 'ipv6' : 'ipv4');
    }
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
    const { ip, family } = normalise(address);
    if (family === null) return false;
    if (this.allowed.check(ip, family)) return true;
    return !this.refused.check(ip, family);
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

function normalise(address: string): { ip: string; family: 'ipv4' | 'ipv6' | null } {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  if (family === 4) return { ip: bare, family: 'ipv4' };
  if (family === 6) {
    // IPv4-mapped (::ffff:a.b.c.d, or its hex form) and IPv4-compatible addresses reach IPv4 hosts.
    const mapped = /^(?:0{0,4}:){0,5}:?ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare)?.[1] ?? hexMapped(bare);
    if (mapped) return { ip: mapped, family: 'ipv4' };
    return { ip: bare, family: 'ipv6' };
  }
  return { ip: bare, family: null };
}

function hexMapped(ip: string): string | null {
  const m = /^(?:0{0,4}:){0,5}:?ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(ip);
  if (!m) return null;
  const hi = Number.parseInt(m[1]!, 16);
  const lo = Number.parseInt(m[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}
