// Owns: root's password hash in /etc/shadow, set from the manifest's sha512-crypt hash.
// Runs: `chpasswd -e` reading the hash from a root-only file in /run that it removes at once.
// Leaves alone: root's SSH login (the sshd concern), password ageing, every other account.
import { createHash } from "node:crypto";
import type { Reconciler } from "../src/engine/types.js";

export interface RootPasswordDesired {
  hash: string;
}

export interface RootPasswordObserved {
  /** A digest of root's hash in /etc/shadow (never the hash); undefined when root has no entry. */
  digest?: string;
  /** The hash is locked (`!` or `*` first) or empty. */
  unusable: boolean;
}

/** A short digest of a crypt hash: what facts and plans show instead of it. Pure. */
export function hashDigest(hash: string): string {
  return `sha256:${createHash("sha256").update(hash).digest("hex").slice(0, 12)}`;
}

const HASH_FILE = "/run/picotrader/root-password";

export const rootPassword: Reconciler<RootPasswordDesired, RootPasswordObserved> = {
  name: "root-password",
  applies: (_node, m) => m.rootPassword !== undefined,
  desired: (_node, m) => ({ hash: m.rootPassword?.hash ?? "" }),
  probe: () => "getent shadow root | cut -d: -f2",
  parse(output) {
    const hash = output.split("\n")[0] ?? "";
    return {
      ...(output.trim() === "" ? {} : { digest: hashDigest(hash) }),
      unusable: hash === "" || hash.startsWith("!") || hash.startsWith("*"),
    };
  },
  plan(d, o) {
    const want = hashDigest(d.hash);
    if (o.digest === want) return [];
    return [
      {
        summary: `set root's password (hash ${o.digest ?? "(none)"} -> ${want})`,
        before: { hash: o.digest ?? "(none)", ...(o.unusable ? { unusable: true } : {}) },
        after: { hash: want },
        steps: [
          {
            kind: "write",
            path: HASH_FILE,
            content: `root:${d.hash}\n`,
            mode: "0600",
            owner: "root",
            group: "root",
            sensitive: true,
          },
          { kind: "run", command: `chpasswd -e < ${HASH_FILE}; rc=$?; rm -f ${HASH_FILE}; exit $rc` },
        ],
      },
    ];
  },
};
