// Which host keys the operator vouches for, beyond known_hosts: the manifest's
// `nodes[].hostKeyFingerprint`, `--host-fingerprint NODE=SHA256:...`, and a yes on the terminal.
// Only these (and keys pinned before the run) ever receive the bootstrap password.
import type { Manifest } from "./manifest/types.generated.js";
import { PicoError } from "./errors.js";
import { confirm } from "./prompt.js";
import { parseFingerprints } from "./transport/ssh.js";

/** Fingerprints by node name from the manifest, then the command line (which wins); a malformed flag is an error. */
export function readHostTrust(
  m: Manifest,
  flags: string[] = [],
): {
  fingerprints: Record<string, string>;
  confirm: (node: string, fingerprint: string) => Promise<boolean>;
} {
  const fromFlags = parseFingerprints(flags.join(","));
  const bad = flags.filter((f) => parseFingerprints(f)[f.split("=")[0] ?? ""] === undefined);
  if (bad.length > 0)
    throw new PicoError(`--host-fingerprint takes NODE=SHA256:<43 characters>, not ${bad.join(", ")}`);
  const fromManifest = Object.fromEntries(
    m.nodes.flatMap((n) => (n.hostKeyFingerprint ? [[n.name, n.hostKeyFingerprint]] : [])),
  );
  return {
    fingerprints: { ...fromManifest, ...fromFlags },
    confirm: (node, fingerprint) =>
      confirm(
        `${node} answers with host key ${fingerprint}, not pinned before this run. Is it the board's ` +
          `(on its console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub)? Send it the bootstrap password?`,
      ),
  };
}

/** What `picotrader trust` finds for one node's presented key. */
export type TrustVerdict =
  | { kind: "pinned" }
  | { kind: "changed" }
  | { kind: "revoked" }
  | { kind: "matches-given" }
  | { kind: "differs-from-given"; given: string }
  | { kind: "unconfirmed" };

/**
 * Compares a presented key with the pins and the fingerprint the operator gave (undefined: none).
 * Pure.
 */
export function judgeHostKey(
  policy: { pinned: { key: string }[]; revoked: string[] },
  presented: { key: string; fingerprint: string },
  given: string | undefined,
): TrustVerdict {
  if (policy.revoked.includes(presented.key)) return { kind: "revoked" };
  if (policy.pinned.some((k) => k.key === presented.key)) return { kind: "pinned" };
  if (policy.pinned.length > 0) return { kind: "changed" };
  if (given === undefined) return { kind: "unconfirmed" };
  return given === presented.fingerprint ? { kind: "matches-given" } : { kind: "differs-from-given", given };
}

/** `ssh-keygen -l`'s line for a key: "256 SHA256:... node1 (ED25519)". Pure. */
export function describeHostKey(
  k: { type: string; bits: number; fingerprint: string },
  comment: string,
): string {
  const kind =
    k.type === "ssh-ed25519"
      ? "ED25519"
      : k.type.startsWith("ecdsa-")
        ? "ECDSA"
        : k.type === "ssh-rsa"
          ? "RSA"
          : k.type;
  return `${k.bits} ${k.fingerprint} ${comment} (${kind})`;
}
