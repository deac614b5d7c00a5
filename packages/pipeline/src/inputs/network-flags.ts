import { type FlagTable, parseList } from 'vgg-cli-kit';
import { parseCidr } from './network-policy.js';

/**
 * The network policy's flags, shared by every process that fetches on a run's behalf (workers for inputs and
 * model files, the producer for manifests): `--allow-hosts`, `--allow-cidrs`. Each CIDR is parsed strictly when
 * the flag is read, so a malformed range stops the process at start-up with exit 2, naming the flag.
 */
export const NETWORK_FLAGS = {
  allowHosts: {
    kind: 'list',
    default: [],
    description:
      'http(s) hosts allowed despite resolving to internal addresses (name or .suffix, comma-separated)',
  },
  allowCidrs: {
    kind: 'string',
    valueName: 'cidrs',
    default: [],
    parse: (text: string, name: string): string[] =>
      parseList(text, name).map((cidr) => parseCidr(cidr, name).toString()),
    description:
      'internal address ranges http(s) fetches may reach, comma-separated, e.g. 10.1.0.0/16,fd00::/8',
  },
} as const satisfies FlagTable;
