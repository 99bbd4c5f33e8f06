// Why a value failed its schema pattern or format, in words: "300 is not an octet", not the regular
// expression. Keyed by the schema location of the failed keyword; a location with no explainer falls
// back to the schema's own description of the value.
import { explainIPv4, explainSubnet } from "./ipv4.js";

const SSH_KEY_TYPES = [
  "ssh-ed25519",
  "ssh-rsa",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
];

/** Why a line is not an OpenSSH public key. Pure. */
function explainSshKey(text: string): string {
  const [type, blob] = text.split(" ");
  if (!SSH_KEY_TYPES.includes(type ?? ""))
    return `not an SSH public key: it starts with ${JSON.stringify(type)}, not a key type (${SSH_KEY_TYPES.slice(0, 3).join(", ")}...); paste the whole line of ~/.ssh/id_ed25519.pub`;
  if (blob === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(blob))
    return `not an SSH public key: after "${type}" comes the key in base64 (AAAA...); paste the whole line of the .pub file`;
  return `not an SSH public key: "TYPE BASE64 [comment]" on one line, as ~/.ssh/id_ed25519.pub has it`;
}

const hostname =
  "a host name: lower-case letters, digits and '-', 1 to 63 characters, not starting or ending with '-'";
const userName =
  "a user name: lower-case letters, digits, '_' and '-', starting with a letter or '_', at most 32 characters";

/** Explainers by the schema path of the failed keyword (without the keyword). */
const explainers: Record<string, (value: string) => string> = {
  "#/properties/cluster/properties/subnet": (v) => explainSubnet(v) ?? `"${v}" is not a subnet`,
  "#/properties/cluster/properties/name": () => `must be ${hostname}`,
  "#/definitions/hostname": () => `must be ${hostname}`,
  "#/properties/keepalived/properties/priorities": () => `must be a node's name, ${hostname}`,
  "#/properties/admin/properties/user": () => `must be ${userName}`,
  "#/properties/admin/properties/groups/items": () =>
    `must be a group name: ${userName.replace("a user name: ", "")}`,
  "#/properties/admin/properties/sshKeys/items": explainSshKey,
  "#/properties/admin/properties/shell": () => "must be an absolute path, as /bin/bash",
  "#/properties/rootPassword/properties/hash": () =>
    "not a sha512-crypt hash ($6$SALT$ and 86 characters): make one with picotrader hash-password, never put the password itself here",
  "#/properties/firewall/properties/allow/items/properties/port/oneOf/1": () =>
    "must be a port (1-65535) or a range FROM:TO, as 30000:32767",
  "#/properties/kernel/properties/modules/items": () =>
    "must be a module name: lower-case letters, digits, '_' and '-'",
  "#/properties/keepalived/properties/interface": () =>
    "must be a network interface name, as eth0 (at most 15 characters)",
  "#/properties/keepalived/properties/passwordEnv": () =>
    "must name an environment variable PICOTRADER_<UPPER_CASE> (the secret stays out of Git)",
  "#/properties/haproxy/properties/checkInterval": () => "must be a duration in ms or s, as 2s or 500ms",
  "#/properties/tftp/properties/root": () =>
    "must be a relative path inside the manifest's folder (letters, digits, '.', '_', '-', '/'; no '..')",
  "#/properties/nodes/items/properties/hostKeyFingerprint": () =>
    "must be a fingerprint as ssh-keygen -l prints it: SHA256: and 43 characters",
  "#/definitions/packageName": () =>
    "must be a plain package name (no version, no trailing '-' or '+', no globs)",
  "#/properties/ssh/properties/settings": () =>
    "must be an sshd keyword: letters and digits, as MaxAuthTries",
  "#/properties/kernel/properties/sysctl": () => "must be a sysctl key, as net.ipv4.ip_forward",
};

/**
 * The words for a failed `pattern` (or `format`) at `schemaPath` ("#/.../pattern"), or undefined
 * when there are none. Pure.
 */
export function explainPattern(schemaPath: string, value: string): string | undefined {
  const at = schemaPath
    .replace(/\/(pattern|format|propertyNames\/pattern)$/, "")
    .replace(/\/propertyNames$/, "");
  const words = explainers[at]?.(value);
  // "must be ..." reads after the value; a sentence of its own (a secret's field) does not echo it.
  return words?.startsWith("must") ? `${JSON.stringify(value)} ${words}` : words;
}

/** The words for a value that is not an IPv4 address. Pure. */
export function explainAddress(value: string): string {
  return explainIPv4(value) ?? `"${value}" is not an IPv4 address`;
}

/** Levenshtein distance of two short strings. Pure. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/** The candidate nearest to a mistyped word (at most a third of it changed), or undefined. Pure. */
export function nearest(word: string, candidates: string[]): string | undefined {
  const lower = word.toLowerCase();
  const scored = candidates
    .map((c) => ({ c, d: distance(lower, c.toLowerCase()) }))
    .filter(({ c, d }) => d <= Math.max(1, Math.floor(Math.max(word.length, c.length) / 3)))
    .sort((x, y) => x.d - y.d);
  return scored[0]?.c;
}
