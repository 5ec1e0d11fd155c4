/**
 * IP address arithmetic for the ipnetwork / ipnetworkinterface mixins: parsing (IPv4 and IPv6, checked
 * with node:net), CIDR membership and the choice of a free address for a dynamic allocation. Pure.
 */
import { isIP } from 'node:net';
import { BadRequest } from '../../errors';

export interface Cidr {
  family: 4 | 6;
  /** The network address (host bits cleared). */
  base: bigint;
  prefix: number;
  /** The CIDR as the client wrote it, normalised (network address / prefix). */
  text: string;
}

const bits = (family: 4 | 6): number => (family === 4 ? 32 : 128);

/** An address as a number; undefined when `text` is not an IPv4 or IPv6 address. */
export function parseAddress(text: string): { family: 4 | 6; value: bigint } | undefined {
  const family = isIP(text);
  if (family === 4) {
    return { family, value: text.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n) };
  }
  if (family === 6) {
    // An embedded IPv4 tail (::ffff:192.0.2.1) becomes its two hex groups first.
    const s = text.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a: string, b: string, c: string, d: string) =>
      `${((Number(a) << 8) | Number(b)).toString(16)}:${((Number(c) << 8) | Number(d)).toString(16)}`,
    );
    const [head, rest] = s.includes('::') ? s.split('::') : [s, undefined];
    const parse = (part: string | undefined): bigint[] => (part ? part.split(':').map((h) => BigInt(parseInt(h, 16))) : []);
    const left = parse(head);
    const right = parse(rest);
    const groups = rest === undefined ? left : [...left, ...new Array<bigint>(8 - left.length - right.length).fill(0n), ...right];
    return { family, value: groups.reduce((acc, g) => (acc << 16n) | g, 0n) };
  }
  return undefined;
}

export function formatAddress(family: 4 | 6, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  // RFC 5952 §5: an IPv4-mapped address keeps its dotted tail.
  if (value >> 32n === 0xffffn) return `::ffff:${formatAddress(4, value & 0xffffffffn)}`;
  const groups = [...Array(8).keys()].map((i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  // RFC 5952: the longest run (≥ 2) of zero groups becomes "::".
  let best = { at: -1, len: 1 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.len).join(':')}`;
}

export function checkAddress(value: unknown, attribute: string): { family: 4 | 6; value: bigint; text: string } {
  const parsed = typeof value === 'string' ? parseAddress(value) : undefined;
  if (!parsed) throw new BadRequest(`${attribute} must be an IPv4 or IPv6 address; got ${JSON.stringify(value)}`);
  return { ...parsed, text: formatAddress(parsed.family, parsed.value) };
}

export function parseCidr(value: unknown, attribute = 'occi.network.address'): Cidr {
  const m = typeof value === 'string' ? /^([^/]+)\/(\d{1,3})$/.exec(value) : null;
  const addr = m ? parseAddress(m[1]!) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (!m || !addr || prefix > bits(addr.family)) {
    throw new BadRequest(`${attribute} must be a network in CIDR notation like 192.168.10.0/24 or fd00:10::/64; got ${JSON.stringify(value)}`);
  }
  const host = bits(addr.family) - prefix;
  const base = (addr.value >> BigInt(host)) << BigInt(host);
  return { family: addr.family, base, prefix, text: `${formatAddress(addr.family, base)}/${prefix}` };
}

export function contains(cidr: Cidr, family: 4 | 6, value: bigint): boolean {
  if (family !== cidr.family) return false;
  const host = BigInt(bits(family) - cidr.prefix);
  return value >> host === cidr.base >> host;
}

/** The addresses of `cidr` an interface may hold: IPv4 loses the network and broadcast addresses (but /31, /32 keep theirs). */
export function hostRange(cidr: Cidr): { first: bigint; last: bigint } {
  const size = 1n << BigInt(bits(cidr.family) - cidr.prefix);
  const last = cidr.base + size - 1n;
  if (cidr.family === 4 && cidr.prefix <= 30) return { first: cidr.base + 1n, last: last - 1n };
  if (cidr.family === 6 && cidr.prefix <= 126) return { first: cidr.base + 1n, last }; // ::0 is the subnet-router anycast address
  return { first: cidr.base, last };
}

/** How many candidates a dynamic allocation looks at, at most (an IPv6 /64 is not walked to its end). */
export const SCAN_LIMIT = 65_536;

/** The lowest address of `cidr` not in `taken` (formatted addresses); undefined when none is left. */
export function firstFree(cidr: Cidr, taken: ReadonlySet<string>): string | undefined {
  const { first, last } = hostRange(cidr);
  let n = 0;
  for (let v = first; v <= last && n < SCAN_LIMIT; v++, n++) {
    const text = formatAddress(cidr.family, v);
    if (!taken.has(text)) return text;
  }
  return undefined;
}
