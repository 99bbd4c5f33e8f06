// Owns: /etc/ssh/sshd_config.d/00-picotrader.conf (PermitRootLogin, PasswordAuthentication, the
// modern-only algorithms unless `ssh.hardened: false`, `ssh.settings`), and the Include line in
// sshd_config when it lacks one. Compared key by key on the effective `sshd -T`. While a managed
// key is wrong there, a line that sets it otherwise (outside a Match block) where sshd reads it
// first (in sshd_config before its Include line, or in a drop-in that sorts before this one) is
// commented out: sshd takes a key's first value.
// Runs: sshd -t (each file written alone, then the whole config), a reload. Leaves alone: every
// other setting.
import type { ChangeDraft, Reconciler, Step } from "../src/engine/types.js";
import { cachedProbe, probeCacheFile } from "../src/transport/probe-cache.js";

export const DROP_IN = "/etc/ssh/sshd_config.d/00-picotrader.conf";
const INCLUDE = "Include /etc/ssh/sshd_config.d/*.conf";
/** sshd_config's line that includes the drop-ins, as an ERE for grep and sed (match case aside). */
const INCLUDE_ERE = "^[[:space:]]*Include[[:space:]]+/etc/ssh/sshd_config\\.d/\\*\\.conf";
/** The same line, for the plan (sshd's keywords ignore case). */
const INCLUDE_LINE = /^\s*Include\s+\/etc\/ssh\/sshd_config\.d\/\*\.conf/i;
/**
 * What `sshd -T` reads: its binary (an upgrade changes defaults), its configuration and drop-ins,
 * the host keys. An Include of a file outside /etc/ssh is not followed (none by default).
 */
const SSHD_READS = ["/usr/sbin/sshd", "/etc/ssh", "/etc/ssh/*", "/etc/ssh/sshd_config.d/*"];
/** Another drop-in this concern may edit: a plain name in sshd_config.d, as sshd's Include reads. */
const OTHER_DROP_IN = /^\/etc\/ssh\/sshd_config\.d\/[A-Za-z0-9][A-Za-z0-9._@+-]*\.conf$/;

export interface SshdDesired {
  /**
   * By lowercase key (as `sshd -T` prints keys), the value as written in the drop-in. Compared with
   * the effective value ignoring case, except a value with a `/` (a path keeps its case).
   */
  settings: Record<string, string>;
  /** sshd_config spelling of declared extra settings, by lowercase key. */
  names?: Record<string, string>;
}

export interface SshdObserved {
  effective: Record<string, string>;
  /** sshd_config's text when it does not include sshd_config.d (we add the Include); else undefined. */
  mainWithoutInclude?: string;
  /** sshd_config's text when a line before its Include sets a managed key; else undefined. */
  mainSettingFirst?: string;
  /** The other drop-ins that set a managed key, with their lines. */
  others?: { path: string; lines: string[] }[];
}

const NAMES: Record<string, string> = {
  permitrootlogin: "PermitRootLogin",
  passwordauthentication: "PasswordAuthentication",
  kexalgorithms: "KexAlgorithms",
  ciphers: "Ciphers",
  macs: "MACs",
  hostkeyalgorithms: "HostKeyAlgorithms",
};

/**
 * Modern algorithms only (what `ssh-audit` passes without a failure): no NIST-curve key exchange, no
 * ECDSA or SHA-1 host key signatures, no CBC ciphers, encrypt-then-MAC only. Each is known to
 * OpenSSH 7.4 and later and to node-ssh (ssh2), so older boards and the controller keep working.
 */
export const HARDENED: Readonly<Record<string, string>> = {
  kexalgorithms:
    "curve25519-sha256,curve25519-sha256@libssh.org,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group-exchange-sha256",
  ciphers:
    "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr",
  macs: "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,umac-128-etm@openssh.com",
  hostkeyalgorithms: "ssh-ed25519,rsa-sha2-512,rsa-sha2-256",
};

/** Whether sshd's effective value `observed` is the declared `wanted`. Pure. */
function sameValue(wanted: string, observed: string | undefined): boolean {
  if (observed === undefined) return false;
  return wanted.includes("/") ? observed === wanted : observed.toLowerCase() === wanted.toLowerCase();
}

/** How sshd_config spells a setting's key (`permitrootlogin` -> `PermitRootLogin`). Pure. */
function spellingOf(d: SshdDesired, key: string): string {
  return NAMES[key] ?? d.names?.[key] ?? key;
}

/** The drop-in that sets every desired setting. Pure. */
export function dropInContent(d: SshdDesired): string {
  const lines = Object.entries(d.settings).map(([k, v]) => `${spellingOf(d, k)} ${v}\n`);
  return `# Managed by picotrader from cluster.yaml. The first value sshd reads wins: this file sorts first.\n${lines.join("")}`;
}

/**
 * `lines` with each line, outside a Match block and before a line `until` matches, that sets a
 * key in `wrong` to another value than the declared one commented out; undefined when there is
 * none. Pure.
 */
function commentedOut(
  d: SshdDesired,
  lines: string[],
  wrong: string[],
  until?: RegExp,
): { content: string; keys: string[] } | undefined {
  const keys = new Set<string>();
  let done = false;
  const content = lines.map((line) => {
    const m = /^\s*([A-Za-z0-9]+)(?:\s*=\s*|\s+)(.*?)\s*$/.exec(line);
    const key = m?.[1]?.toLowerCase();
    if (key === "match" || until?.test(line) === true) done = true;
    if (done || key === undefined || !wrong.includes(key)) return line;
    if (sameValue(d.settings[key] ?? "", (m?.[2] ?? "").replace(/^"(.*)"$/, "$1"))) return line;
    keys.add(key);
    return `# Turned off by picotrader (cluster.yaml sets ${spellingOf(d, key)} in ${DROP_IN}): ${line}`;
  });
  return keys.size === 0 ? undefined : { content: `${content.join("\n")}\n`, keys: [...keys] };
}

/**
 * The files where sshd reads a key in `wrong` before DROP_IN, set to another value than the
 * declared one: each with those lines commented out, and the keys. sshd reads sshd_config down to
 * its Include line, then Include's files in the order of OpenSSH's own glob (linked in on glibc,
 * which lacks gl_matchc: Debian's sshd imports no glob), which sorts by strcmp: byte order. A
 * drop-in read after DROP_IN (the lab's factory 10-factory.conf) does not count and is left as it
 * is, and so is a drop-in of another name than OTHER_DROP_IN (the verify then says the key is
 * still wrong). Pure.
 */
export function overridingLines(
  d: SshdDesired,
  o: SshdObserved,
  wrong: string[],
): { path: string; content: string; keys: string[] }[] {
  const main =
    o.mainSettingFirst === undefined
      ? undefined
      : commentedOut(d, o.mainSettingFirst.replace(/\n$/, "").split("\n"), wrong, INCLUDE_LINE);
  return [
    ...(main ? [{ path: "/etc/ssh/sshd_config", ...main }] : []),
    ...(o.others ?? []).flatMap(({ path, lines }) => {
      const edited = OTHER_DROP_IN.test(path) && path < DROP_IN ? commentedOut(d, lines, wrong) : undefined;
      return edited ? [{ path, ...edited }] : [];
    }),
  ];
}

export const sshd: Reconciler<SshdDesired, SshdObserved> = {
  name: "sshd",
  // Root login goes off only once the admin user and its keys are in place.
  after: ["ssh-keys"],
  applies: () => true,
  desired: (_node, m) => ({
    settings: {
      ...(m.ssh?.hardened === false ? {} : HARDENED),
      ...Object.fromEntries(
        Object.entries(m.ssh?.settings ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]),
      ),
      permitrootlogin: m.ssh?.permitRootLogin === true ? "yes" : "no",
      passwordauthentication: m.ssh?.passwordAuthentication === true ? "yes" : "no",
    },
    names: Object.fromEntries(Object.keys(m.ssh?.settings ?? {}).map((k) => [k.toLowerCase(), k])),
  }),
  // Every managed key, as sshd itself resolves it (keys are letters and digits: the schema says
  // so), kept while sshd's binary and every file under /etc/ssh stay as they were.
  files: [probeCacheFile("sshd")],
  probe: (d) => {
    const keys = Object.keys(d.settings).join("|");
    // A config line that sets a managed key (as grep -Ei reads it).
    const setsKey = `'^[[:space:]]*(${keys})([[:space:]]|=)'`;
    return cachedProbe(
      probeCacheFile("sshd"),
      SSHD_READS,
      `out=$(sshd -T) || exit
printf '%s\\n' "$out" | grep -E '^(${keys}) ' || true
grep -Eil ${setsKey} /etc/ssh/sshd_config.d/*.conf 2>/dev/null |
while IFS= read -r f; do
  [ "$f" = ${DROP_IN} ] || { echo "@@other $f"; sed 's/^/|/' "$f"; echo; }
done
if ! grep -Eqi '${INCLUDE_ERE}' /etc/ssh/sshd_config; then
  echo '@@main'; cat /etc/ssh/sshd_config
elif sed -E '\\,${INCLUDE_ERE},Iq' /etc/ssh/sshd_config | grep -Eqi ${setsKey}; then
  echo '@@first'; cat /etc/ssh/sshd_config
fi`,
    );
  },
  parse(output) {
    // The first line of its own (another drop-in's lines come prefixed with "|"); sshd_config after it.
    const at = /^@@(main|first)\n/m.exec(output);
    const settings = at ? output.slice(0, at.index) : output;
    const main = at ? output.slice(at.index + at[0].length) : undefined;
    const effective: Record<string, string> = {};
    const others: { path: string; lines: string[] }[] = [];
    // A key sshd prints on several lines (AcceptEnv, Subsystem...) is one value, space-joined.
    for (const line of settings.split("\n")) {
      if (line.startsWith("@@other ")) {
        others.push({ path: line.slice(8), lines: [] });
        continue;
      }
      if (line.startsWith("|")) {
        others.at(-1)?.lines.push(line.slice(1));
        continue;
      }
      const [key, ...value] = line.trim().split(/\s+/);
      if (key && value.length > 0) {
        const v = value.join(" ");
        effective[key] = effective[key] === undefined ? v : `${effective[key]} ${v}`;
      }
    }
    return {
      effective,
      ...(main === undefined
        ? {}
        : at?.[1] === "main"
          ? { mainWithoutInclude: main }
          : { mainSettingFirst: main }),
      ...(others.length > 0 ? { others } : {}),
    };
  },
  plan(d, o) {
    const spelling = (k: string) => spellingOf(d, k);
    const wrong = Object.keys(d.settings).filter((k) => !sameValue(d.settings[k] ?? "", o.effective[k]));
    if (wrong.length === 0) return [];
    const steps: Step[] = [];
    const overrides = overridingLines(d, o, wrong);
    if (o.mainWithoutInclude !== undefined) {
      steps.push({
        kind: "write",
        path: "/etc/ssh/sshd_config",
        content: `${INCLUDE}\n${o.mainWithoutInclude}`,
        mode: "0644",
        owner: "root",
        group: "root",
      });
    }
    for (const f of overrides)
      steps.push({
        kind: "write",
        path: f.path,
        content: f.content,
        mode: "0644",
        owner: "root",
        group: "root",
        validate: `sshd -t -f "$1"`,
      });
    steps.push(
      {
        kind: "write",
        path: DROP_IN,
        content: dropInContent(d),
        mode: "0644",
        owner: "root",
        group: "root",
        validate: `sshd -t -f "$1"`,
      },
      { kind: "run", command: "sshd -t" },
      { kind: "run", command: "systemctl reload ssh 2>/dev/null || systemctl reload sshd" },
    );
    const change: ChangeDraft = {
      summary: [
        wrong.map((k) => `${spelling(k)} ${o.effective[k] ?? "(unset)"} -> ${d.settings[k]}`).join(", "),
        ...overrides.map((f) => `comment out ${f.keys.map(spelling).join(", ")} in ${f.path}`),
      ].join("; "),
      before: Object.fromEntries(
        wrong.filter((k) => o.effective[k] !== undefined).map((k) => [k, o.effective[k]]),
      ),
      after: Object.fromEntries(wrong.map((k) => [k, d.settings[k]])),
      steps,
      risk: "access",
      guard: {
        paths: [...new Set(["/etc/ssh/sshd_config", DROP_IN, ...overrides.map((f) => f.path)])],
        reactivate: ["systemctl reload ssh 2>/dev/null || systemctl reload sshd"],
      },
    };
    return [change];
  },
};
