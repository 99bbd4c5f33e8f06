// What facts and plans show instead of a secret read back from a node (a VRRP or database password).
import { createHmac, randomBytes } from "node:crypto";

/**
 * The key of the password's stand-in: random per controller process, never written anywhere. A
 * plain digest of an 8-character password could be brute-forced from a plan or an artifact; an HMAC
 * under a key nobody else has tells only "same" or "different" within one run.
 */
const MASK_KEY = randomBytes(32);

/** What facts and plans show for a VRRP password: equal for equal passwords in one run, and nothing more. */
export function maskSecret(secret: string): string {
  return `(secret ${createHmac("sha256", MASK_KEY).update(secret).digest("hex").slice(0, 8)})`;
}
