/** IPv4 CIDR arithmetic for laying out the subnets of a new VPC. Pure. */

export interface Cidr {
  /** The network address as an unsigned 32-bit number. */
  base: number;
  prefix: number;
}

/** AWS subnets are /16 to /28. */
export const SMALLEST_SUBNET_PREFIX = 28;

export function parseCidr(text: string): Cidr | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text);
  if (!match) return undefined;
  const octets = match.slice(1, 5).map(Number);
  const prefix = Number(match[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return undefined;
  const base = octets.reduce((acc, o) => acc * 256 + o, 0);
  return { base, prefix };
}

export function formatCidr(cidr: Cidr): string {
  const b = cidr.base;
  return `${Math.floor(b / 2 ** 24) % 256}.${Math.floor(b / 2 ** 16) % 256}.${Math.floor(b / 2 ** 8) % 256}.${b % 256}/${cidr.prefix}`;
}

/** True when the address has no bits set past the prefix (10.0.0.0/16, not 10.0.1.0/16). */
export function isNetworkAddress(cidr: Cidr): boolean {
  return cidr.base % 2 ** (32 - cidr.prefix) === 0;
}

/** The block with its host bits cleared (10.0.1.0/16 -> 10.0.0.0/16). */
export function networkOf(cidr: Cidr): Cidr {
  const size = 2 ** (32 - cidr.prefix);
  return { base: cidr.base - (cidr.base % size), prefix: cidr.prefix };
}

/** Splits a block into `2^bits` equal blocks, in address order. */
export function splitCidr(cidr: Cidr, bits: number): Cidr[] {
  const prefix = cidr.prefix + bits;
  const size = 2 ** (32 - prefix);
  return Array.from({ length: 2 ** bits }, (_, i) => ({ base: cidr.base + i * size, prefix }));
}
