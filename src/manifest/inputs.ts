// What a run reads besides the manifest, once, before any connection: the secrets (never in the
// manifest: it names environment variables of the controller) and the files under `tftp.root`.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import type { Inputs, LocalFile, Secrets } from "../engine/types.js";
import { PicoError } from "../errors.js";
import { DEFAULT_VRRP_PASSWORD_ENV } from "./defaults.js";
import type { Manifest } from "./types.generated.js";

/** A secret the manifest needs: the variable and the manifest key that asks for it. */
export interface SecretNeed {
  variable: string;
  usedBy: string;
}

/** The secrets a manifest needs from the controller's environment. Pure. */
export function requiredSecrets(m: Manifest): SecretNeed[] {
  return m.keepalived
    ? [
        {
          variable: m.keepalived.passwordEnv ?? DEFAULT_VRRP_PASSWORD_ENV,
          usedBy: "keepalived (VRRP password)",
        },
      ]
    : [];
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

/** Every file under `root`, by path relative to it (sorted), with its digest. */
export function readLocalFiles(root: string): Record<string, LocalFile> {
  const out: Record<string, LocalFile> = {};
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) {
        const sha256 = createHash("sha256").update(readFileSync(path)).digest("hex");
        out[relative(root, path)] = { path, sha256, size: statSync(path).size };
      }
    }
  };
  try {
    walk(root);
  } catch (err) {
    throw new PicoError(`tftp.root: cannot read ${root}: ${(err as Error).message}`, { cause: err });
  }
  return out;
}

/** The run's inputs for `manifest` loaded from `manifestFile`: secrets from `env`, the TFTP files. */
export function readInputs(m: Manifest, manifestFile: string, env: NodeJS.ProcessEnv): Inputs {
  const files = m.tftp ? readLocalFiles(resolve(dirname(manifestFile), m.tftp.root)) : {};
  const sums = files["c2/SHA256SUMS"];
  const imageParts = sums ? parseSha256Sums(readFileSync(sums.path, "utf8")) : [];
  return { secrets: readSecrets(m, env), files, imageParts };
}

/** `sha256sum` output: "HEX  NAME" lines, in order. Pure. */
export function parseSha256Sums(text: string): { name: string; sha256: string }[] {
  return [...text.matchAll(/^([0-9a-f]{64}) [ *](\S+)$/gm)].map((m) => ({
    name: m[2] as string,
    sha256: m[1] as string,
  }));
}
