// What a run reads besides the manifest, once, before any connection: the secrets (never in the
// manifest: it names environment variables of the controller), the files under `tftp.root`, and
// the etcd CA's certificates (made on first use).
import { lstatSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import type { Inputs, LocalFile, Secrets } from "../engine/types.js";
import { PicoError } from "../errors.js";
import {
  DEFAULT_POSTGRES_PASSWORD_ENV,
  DEFAULT_REPLICATION_PASSWORD_ENV,
  DEFAULT_VRRP_PASSWORD_ENV,
} from "./defaults.js";
import type { Manifest } from "./types.generated.js";
import { PART_SIZE_FILE } from "../tftp.js";
import { DigestCache } from "../util/digests.js";
import { readEtcdPki } from "../pki.js";

/** A secret the manifest needs: the variable and the manifest key that asks for it. */
export interface SecretNeed {
  variable: string;
  usedBy: string;
}

/** The secrets a manifest needs from the controller's environment. Pure. */
export function requiredSecrets(m: Manifest): SecretNeed[] {
  return [
    ...(m.keepalived
      ? [
          {
            variable: m.keepalived.passwordEnv ?? DEFAULT_VRRP_PASSWORD_ENV,
            usedBy: "keepalived (VRRP password)",
          },
        ]
      : []),
    ...(m.postgres
      ? [
          {
            variable: m.postgres.passwordEnv ?? DEFAULT_POSTGRES_PASSWORD_ENV,
            usedBy: "postgres (the superuser's password)",
          },
          {
            variable: m.postgres.replicationPasswordEnv ?? DEFAULT_REPLICATION_PASSWORD_ENV,
            usedBy: "postgres (the replication user's password)",
          },
        ]
      : []),
  ];
}

/** Reads the manifest's secrets from `env`; a missing or empty one is an error naming the variable. */
export function readSecrets(m: Manifest, env: NodeJS.ProcessEnv): Secrets {
  const needs = requiredSecrets(m);
  const missing = needs.filter((n) => !env[n.variable]);
  if (missing.length > 0)
    throw new PicoError(
      missing
        .map((n) => `${n.usedBy} needs the environment variable ${n.variable}: it is not set`)
        .join("\n"),
    );
  return Object.fromEntries(needs.map((n) => [n.variable, env[n.variable] as string]));
}

/** A name a file under tftp.root may have: it becomes a path on the TFTP server. */
const SAFE_NAME = /^[A-Za-z0-9._+-]+$/;

/**
 * Every file under `root`, by path relative to it (sorted), with its digest. `root` must lie inside
 * `within` once symlinks are resolved; a symlink, a special file or a name other than
 * letters, digits and `._+-` under it is an error naming it (nothing is skipped silently).
 */
export function readLocalFiles(
  root: string,
  within: string,
  digests: DigestCache = new DigestCache(),
): Record<string, LocalFile> {
  const out: Record<string, LocalFile> = {};
  let top = root;
  const walk = (dir: string) => {
    // Sorted by code unit, as the C locale sorts: the same order on every controller.
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    )) {
      const path = join(dir, entry.name);
      const rel = relative(top, path);
      if (!SAFE_NAME.test(entry.name))
        throw new PicoError(`tftp.root: ${JSON.stringify(rel)}: a name of letters, digits and ._+- only`);
      if (entry.isSymbolicLink())
        throw new PicoError(`tftp.root: ${rel} is a symlink: copy the file in instead`);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) {
        out[rel] = { path, ...digests.read(path) };
      } else throw new PicoError(`tftp.root: ${rel} is not a regular file or a folder`);
    }
  };
  let real: string;
  try {
    real = realpathSync(root);
    const base = realpathSync(within);
    if (lstatSync(root).isSymbolicLink() || (real !== base && !real.startsWith(`${base}/`)))
      throw new PicoError(
        `tftp.root: ${root} is ${real === root ? "" : `${real}, `}outside the manifest's folder ${base} (or a symlink)`,
      );
    top = real;
    walk(real);
    digests.save();
  } catch (err) {
    if (err instanceof PicoError) throw err;
    throw new PicoError(`tftp.root: cannot read ${root}: ${(err as Error).message}`, { cause: err });
  }
  return out;
}

/** The run's inputs for `manifest` loaded from `manifestFile`: secrets from `env`, the TFTP files. */
export function readInputs(m: Manifest, manifestFile: string, env: NodeJS.ProcessEnv): Inputs {
  const folder = dirname(resolve(manifestFile));
  const files = m.tftp ? readLocalFiles(resolve(folder, m.tftp.root), folder) : {};
  const sums = files["c2/SHA256SUMS"];
  const imageParts = sums ? parseSha256Sums(readFileSync(sums.path, "utf8")) : [];
  const sizeFile = files[`c2/${PART_SIZE_FILE}`];
  const partSize = sizeFile ? Number(readFileSync(sizeFile.path, "utf8").trim()) : 0;
  if (imageParts.length > 0 && !(Number.isInteger(partSize) && partSize > 0 && partSize % 512 === 0))
    throw new PicoError(
      `tftp.root: c2/${PART_SIZE_FILE} ${sizeFile ? "is not a whole number of 512-byte blocks" : "is missing"}: run picotrader tftp-prepare again`,
    );
  const etcdPki = readEtcdPki(m, env);
  return { secrets: readSecrets(m, env), files, imageParts, partSize, ...(etcdPki ? { etcdPki } : {}) };
}

/** `sha256sum` output: "HEX  NAME" lines, in order. Pure. */
export function parseSha256Sums(text: string): { name: string; sha256: string }[] {
  return [...text.matchAll(/^([0-9a-f]{64}) [ *](\S+)$/gm)].map((m) => ({
    name: m[2] as string,
    sha256: m[1] as string,
  }));
}
