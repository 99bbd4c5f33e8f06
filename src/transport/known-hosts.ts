import { createHmac } from "node:crypto";

/** One known_hosts entry: the patterns it covers and the key it pins (or revokes, or trusts to sign). */
export interface KnownHost {
  patterns: string[];
  keyType: string;
  /** Base64 of the key blob as the server sends it. */
  key: string;
  /** `@revoked`: this key is refused; `@cert-authority`: it signs host certificates. */
  marker?: "revoked" | "cert-authority";
}

/** Parses known_hosts text as OpenSSH does: plain, wildcard and hashed names, markers; comments skipped. Pure. */
export function parseKnownHosts(text: string): KnownHost[] {
  const entries: KnownHost[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const fields = line.split(/\s+/);
    const marker =
      fields[0] === "@revoked" ? "revoked" : fields[0] === "@cert-authority" ? "cert-authority" : undefined;
    // An unknown marker makes the line mean nothing we could honour: skip it, as OpenSSH does.
    if (marker === undefined && fields[0]?.startsWith("@")) continue;
    const [hosts, keyType, key] = marker === undefined ? fields : fields.slice(1);
    if (!hosts || !keyType || !key) continue;
    entries.push({ patterns: hosts.split(","), keyType, key, ...(marker ? { marker } : {}) });
  }
  return entries;
}

/** What known_hosts says of one host: the keys pinned for it, the keys revoked, and any CA lines. */
export interface HostKeyPolicy {
  pinned: KnownHost[];
  /** Base64 key blobs refused for this host (`@revoked`). */
  revoked: string[];
  /** `@cert-authority` lines for this host: PicoTrader does not verify host certificates. */
  certAuthorities: KnownHost[];
}

/** The policy of the known_hosts entries for `address`:`port`, from every file given, in order. Pure. */
export function hostKeyPolicy(entries: KnownHost[], address: string, port: number): HostKeyPolicy {
  const name = knownHostName(address, port);
  const mine = entries.filter((e) => matchesList(e.patterns, name));
  return {
    pinned: mine.filter((e) => e.marker === undefined),
    revoked: mine.filter((e) => e.marker === "revoked").map((e) => e.key),
    certAuthorities: mine.filter((e) => e.marker === "cert-authority"),
  };
}

/** The name known_hosts uses for a host and port: `addr` for 22, `[addr]:port` otherwise. */
export function knownHostName(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

/** OpenSSH's wildcards: `*` any run of characters, `?` one character; the rest literally. Pure. */
function wildcard(pattern: string, name: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern.toLowerCase() === name.toLowerCase();
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${source}$`, "i").test(name);
}

function matches(pattern: string, name: string): boolean {
  if (pattern.startsWith("|1|")) {
    const [, , salt, hash] = pattern.split("|");
    if (!salt || !hash) return false;
    return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
  }
  return wildcard(pattern, name);
}

/** A comma list of patterns, as OpenSSH reads it: a matching `!pattern` excludes the host outright. Pure. */
function matchesList(patterns: string[], name: string): boolean {
  if (patterns.some((p) => p.startsWith("!") && matches(p.slice(1), name))) return false;
  return patterns.some((p) => !p.startsWith("!") && matches(p, name));
}

/** The pinned keys for a host (no marker lines); [] when the host is unknown. Pure. */
export function keysFor(entries: KnownHost[], address: string, port: number): KnownHost[] {
  return hostKeyPolicy(entries, address, port).pinned;
}

/** known_hosts text without the lines that pin `address`:`port` (a re-imaged host's old key). Pure. */
export function withoutHost(text: string, address: string, port: number): string {
  const name = knownHostName(address, port);
  return text
    .split("\n")
    .filter((raw) => {
      const [hosts] = raw.trim().split(/\s+/);
      // Only the lines that pin this very host go: a wildcard or marker line serves others too.
      return (
        raw.trim().startsWith("#") ||
        raw.trim().startsWith("@") ||
        !hosts ||
        !hosts.split(",").some((p) => !/[*?!]/.test(p) && matches(p, name))
      );
    })
    .join("\n");
}
