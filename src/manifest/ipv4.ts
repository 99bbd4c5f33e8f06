/** Parses a dotted IPv4 address into a 32-bit number; undefined when it is not one. */
export function parseIPv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = value * 256 + Number(part);
  }
  return value;
}

/** A parsed CIDR subnet; undefined when `text` is not `a.b.c.d/len` or has host bits set. */
export function parseSubnet(text: string): { base: number; prefix: number } | undefined {
  const [addr, len] = text.split("/");
  const base = parseIPv4(addr ?? "");
  const prefix = Number(len);
  if (base === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) return undefined;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  if ((base & ~mask) >>> 0 !== 0) return undefined;
  return { base, prefix };
}

/** True when `address` lies in the subnet and is neither its network nor its broadcast address. */
export function isHostInSubnet(address: string, subnet: { base: number; prefix: number }): boolean {
  const value = parseIPv4(address);
  if (value === undefined) return false;
  const size = 2 ** (32 - subnet.prefix);
  const offset = value - subnet.base;
  return offset >= 0 && offset < size && (size <= 2 || (offset !== 0 && offset !== size - 1));
}
