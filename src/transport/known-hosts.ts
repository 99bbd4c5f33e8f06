import { createHmac } from "node:crypto";

/** One known_hosts entry: the patterns it covers and the key it pins. */
export interface KnownHost {
  patterns: string[];
  keyType: string;
  /** Base64 of the key blob as the server sends it. */
  key: string;
}

/** Parses known_hosts text (plain and hashed names; markers and comments skipped). Pure. */
export function parseKnownHosts(text: string): KnownHost[] {
  const entries: KnownHost[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith("@")) continue;
    const [hosts, keyType, key] = line.split(/\s+/);
    if (!hosts || !keyType || !key) continue;
    entries.push({ patterns: hosts.split(","), keyType, key });
  }
  return entries;
}

/** The name known_hosts uses for a host and port: `addr` for 22, `[addr]:port` otherwise. */
export function knownHostName(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

function matches(pattern: string, name: string): boolean {
  if (pattern.startsWith("|1|")) {
    const [, , salt, hash] = pattern.split("|");
    if (!salt || !hash) return false;
    return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
  }
  return pattern === name;
}

/** The pinned keys for a host; [] when the host is unknown. Pure. */
export function keysFor(entries: KnownHost[], address: string, port: number): KnownHost[] {
  const name = knownHostName(address, port);
  return entries.filter((e) => e.patterns.some((p) => matches(p, name)));
}

/** known_hosts text without the lines that pin `address`:`port` (a re-imaged host's old key). Pure. */
export function withoutHost(text: string, address: string, port: number): string {
  const name = knownHostName(address, port);
  return text
    .split("\n")
    .filter((raw) => {
      const [hosts] = raw.trim().split(/\s+/);
      return raw.trim().startsWith("#") || !hosts || !hosts.split(",").some((p) => matches(p, name));
    })
    .join("\n");
}
