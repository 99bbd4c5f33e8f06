// Owns: /etc/ssh/sshd_config.d/00-picotrader.conf (PermitRootLogin, PasswordAuthentication), and
// the Include line in sshd_config when it lacks one. Compared on the effective `sshd -T`.
// Runs: sshd -t (the drop-in alone, then the whole config), a reload. Leaves alone: every other setting.
import type { ChangeDraft, Reconciler, Step } from "../src/engine/types.js";

export const DROP_IN = "/etc/ssh/sshd_config.d/00-picotrader.conf";
const INCLUDE = "Include /etc/ssh/sshd_config.d/*.conf";

export interface SshdDesired {
  /** Effective values as `sshd -T` prints them (lowercase keys and values). */
  settings: Record<string, string>;
  /** sshd_config spelling of declared extra settings, by lowercase key. */
  names?: Record<string, string>;
}

export interface SshdObserved {
  effective: Record<string, string>;
  /** sshd_config's text when it does not include sshd_config.d (we add the Include); else undefined. */
  mainWithoutInclude?: string;
}

const NAMES: Record<string, string> = {
  permitrootlogin: "PermitRootLogin",
  passwordauthentication: "PasswordAuthentication",
};

export const sshd: Reconciler<SshdDesired, SshdObserved> = {
  name: "sshd",
  // Root login goes off only once the admin user and its keys are in place.
  after: ["ssh-keys"],
  applies: () => true,
  desired: (_node, m) => ({
    settings: {
      ...Object.fromEntries(
        Object.entries(m.ssh?.settings ?? {}).map(([k, v]) => [k.toLowerCase(), String(v).toLowerCase()]),
      ),
      permitrootlogin: m.ssh?.permitRootLogin === true ? "yes" : "no",
      passwordauthentication: m.ssh?.passwordAuthentication === true ? "yes" : "no",
    },
    names: Object.fromEntries(Object.keys(m.ssh?.settings ?? {}).map((k) => [k.toLowerCase(), k])),
  }),
  probe:
    () => `sshd -T 2>&1 | grep -E '^(permitrootlogin|passwordauthentication) ' || { sshd -T >&2; exit 1; }
if ! grep -Eqi '^[[:space:]]*Include[[:space:]]+/etc/ssh/sshd_config\\.d/\\*\\.conf' /etc/ssh/sshd_config; then
  echo '@@main'; cat /etc/ssh/sshd_config
fi`,
  parse(output) {
    const [settings = "", main] = output.split("@@main\n");
    const effective: Record<string, string> = {};
    for (const line of settings.split("\n")) {
      const [key, ...value] = line.trim().split(/\s+/);
      if (key && value.length > 0) effective[key] = value.join(" ").toLowerCase();
    }
    return main === undefined ? { effective } : { effective, mainWithoutInclude: main };
  },
  plan(d, o) {
    const wrong = Object.keys(d.settings).filter((k) => o.effective[k] !== d.settings[k]);
    if (wrong.length === 0) return [];
    const steps: Step[] = [];
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
    steps.push(
      {
        kind: "write",
        path: DROP_IN,
        content: `# Managed by picotrader from cluster.yaml. The first value sshd reads wins: this file sorts first.\n${Object.entries(
          d.settings,
        )
          .map(([k, v]) => `${NAMES[k] ?? d.names?.[k] ?? k} ${v}`)
          .join("\n")}\n`,
        mode: "0644",
        owner: "root",
        group: "root",
        validate: `sshd -t -f "$1"`,
      },
      { kind: "run", command: "sshd -t" },
      { kind: "run", command: "systemctl reload ssh 2>/dev/null || systemctl reload sshd" },
    );
    const change: ChangeDraft = {
      summary: wrong
        .map((k) => `${NAMES[k] ?? k} ${o.effective[k] ?? "(unset)"} -> ${d.settings[k]}`)
        .join(", "),
      before: Object.fromEntries(
        wrong.filter((k) => o.effective[k] !== undefined).map((k) => [k, o.effective[k]]),
      ),
      after: Object.fromEntries(wrong.map((k) => [k, d.settings[k]])),
      steps,
      risk: "access",
      guard: {
        paths: ["/etc/ssh/sshd_config", DROP_IN],
        reactivate: ["systemctl reload ssh 2>/dev/null || systemctl reload sshd"],
      },
    };
    return [change];
  },
};
