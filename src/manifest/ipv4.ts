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

/** Why `text` is not a dotted IPv4 address, in words; undefined when it is one. Pure. */
export function explainIPv4(text: string): string | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return `"${text}" is not an IPv4 address (four numbers 0-255, as 192.168.0.10)`;
  const bad = parts.find((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255);
  return bad === undefined
    ? undefined
    : `${JSON.stringify(bad)} in "${text}" is not an octet (a number 0-255)`;
}

/** Why `text` is not a network in CIDR form, in words; undefined when it is one. Pure. */
export function explainSubnet(text: string): string | undefined {
  const [addr, len, ...rest] = text.split("/");
  if (len === undefined || rest.length > 0)
    return `"${text}" is not a subnet in CIDR form (a network address and a prefix, as 192.168.0.0/24)`;
  const address = explainIPv4(addr ?? "");
  if (address !== undefined) return address;
  if (!/^\d{1,2}$/.test(len) || Number(len) > 32) return `/${len} in "${text}" is not a prefix length (0-32)`;
  const subnet = parseSubnet(text);
  if (subnet === undefined) {
    const prefix = Number(len);
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    const base = ((parseIPv4(addr ?? "") ?? 0) & mask) >>> 0;
    const network = [24, 16, 8, 0].map((s) => (base >>> s) & 255).join(".");
    return `"${text}" has host bits set: the network is ${network}/${prefix}`;
  }
  return undefined;
}
