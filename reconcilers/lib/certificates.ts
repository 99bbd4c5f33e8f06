// Shared by the concerns that put the cluster CA's certificate and a node's own certificate and key
// on a node (etcd, postgres): the three files' write steps, their digests, and the probe lines.
import { createHash } from "node:crypto";
import type { Step } from "../../src/engine/types.js";

/** The three files, by what they are. */
export type CertificateFile = "ca" | "cert" | "key";
export const CERTIFICATE_FILES: readonly CertificateFile[] = ["ca", "cert", "key"];

/** sha256 of each file's content, as the probe reports them. */
export type CertificateDigests = Record<CertificateFile, string>;

/** The PEMs of one node. */
export interface CertificatePems {
  ca: string;
  cert: string;
  key: string;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** The digests the probe will report for these PEMs once written. Pure. */
export function certificateDigests(p: CertificatePems): CertificateDigests {
  return { ca: sha256(p.ca), cert: sha256(p.cert), key: sha256(p.key) };
}

/**
 * Probe lines printing `digest NAME SHA256` for each of the three files under `dir` that exists:
 * one `sha256sum` for the three (it prints a line per file it could read, in order). Pure.
 */
export function buildCertificateDigestProbe(dir: string): string {
  return `set -- $(cd ${dir} 2>/dev/null && sha256sum -- ca.crt node.crt node.key 2>/dev/null)
while [ $# -ge 2 ]; do printf 'digest %s %s\\n' "$2" "$1"; shift 2; done`;
}

/** Reads those lines; a missing file has no digest. Pure. */
export function parseCertificateDigests(lines: string[]): Partial<CertificateDigests> {
  const digests: Partial<CertificateDigests> = {};
  for (const l of lines) {
    const m = /^digest (ca|node)\.(crt|key) ([0-9a-f]{64})$/.exec(l);
    if (m) digests[m[1] === "ca" ? "ca" : m[2] === "crt" ? "cert" : "key"] = m[3];
  }
  return digests;
}

/** The write steps of the files: certificates 0644 root's, the key 0600 the service user's. Pure. */
export function certificateSteps(
  dir: string,
  p: CertificatePems,
  user: string,
): Record<CertificateFile, Step> {
  const root = { owner: "root", group: "root", mode: "0644" };
  return {
    ca: { kind: "write", path: `${dir}/ca.crt`, content: p.ca, ...root },
    cert: { kind: "write", path: `${dir}/node.crt`, content: p.cert, ...root },
    key: {
      kind: "write",
      path: `${dir}/node.key`,
      content: p.key,
      mode: "0600",
      owner: user,
      group: user,
      sensitive: true,
    },
  };
}

/** The files whose digest on the node differs from the desired one. Pure. */
export function staleCertificates(
  want: CertificateDigests,
  seen: Partial<CertificateDigests>,
): CertificateFile[] {
  return CERTIFICATE_FILES.filter((k) => seen[k] !== want[k]);
}
