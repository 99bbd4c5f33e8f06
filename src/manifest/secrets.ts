// Secrets never live in the manifest: it names environment variables of the controller, and this
// module reads them once per run, before any connection.
import type { Secrets } from "../engine/types.js";
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
