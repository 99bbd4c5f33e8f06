// Owns: the admin user's account (existence, login shell, declared groups) and its passwordless
// sudo through /etc/sudoers.d/90-picotrader-admin (validated with visudo before it is installed).
// Runs: useradd/usermod, one atomic write. Leaves alone: other users, groups not declared, the
// user's password (set to "*": no password login, not locked, so key logins work).
import type { ChangeDraft, Reconciler, Step } from "../src/engine/types.js";
import { shellQuote } from "../src/transport/quote.js";
import { cachedProbe, probeCacheFile } from "../src/transport/probe-cache.js";
import { parseKeyValues } from "./lib/text.js";

export const SUDOERS_FILE = "/etc/sudoers.d/90-picotrader-admin";
/** What the account, its groups and `sudo -l` are read from. */
const ACCOUNT_READS = [
  "/etc/passwd",
  "/etc/group",
  "/etc/nsswitch.conf",
  "/etc/hostname",
  "/etc/hosts",
  "/usr/bin/sudo",
  "/etc/sudo.conf",
  "/etc/sudoers",
  "/etc/sudoers.d",
  "/etc/sudoers.d/*",
];

export interface AdminDesired {
  user: string;
  shell: string;
  groups: string[];
  sudo: boolean;
}

export interface AdminObserved {
  /** undefined when the user does not exist. */
  account?: { shell: string; home: string; groups: string[] };
  /** What `sudo -l -U user` says: may run ALL as ALL without a password. */
  sudoNopasswdAll: boolean;
}

/** The sudoers file that gives `user` passwordless sudo. Pure. */
export function sudoersContent(user: string): string {
  return `# Managed by picotrader from cluster.yaml.\n${user} ALL=(ALL) NOPASSWD:ALL\n`;
}

export const adminUser: Reconciler<AdminDesired, AdminObserved> = {
  name: "admin-user",
  applies: () => true,
  desired: (_node, m) => ({
    user: m.admin.user,
    shell: m.admin.shell ?? "/bin/bash",
    groups: [...(m.admin.groups ?? [])].sort(),
    sudo: m.admin.sudo ?? true,
  }),
  // Kept while the account databases and sudo's configuration stay as they were.
  files: [probeCacheFile("admin-user")],
  probe: (d) =>
    cachedProbe(
      probeCacheFile("admin-user"),
      ACCOUNT_READS,
      `u=${shellQuote(d.user)}
if p=$(getent passwd "$u"); then
  printf 'passwd=%s\\n' "$p"
  printf 'groups=%s\\n' "$(id -nG "$u")"
  if sudo -n -l -U "$u" 2>/dev/null | sed -n '/may run the following/,$p' | grep -Eq '^[[:space:]]*\\(ALL( : ALL)?\\) NOPASSWD: ALL[[:space:]]*$'; then echo sudo=yes; else echo sudo=no; fi
fi
true`,
    ),
  parse(output) {
    const kv = parseKeyValues(output);
    if (kv.passwd === undefined) return { sudoNopasswdAll: false };
    const fields = kv.passwd.split(":");
    return {
      account: {
        home: fields[5] ?? "",
        shell: fields[6] ?? "",
        groups: (kv.groups ?? "").split(/\s+/).filter(Boolean).sort(),
      },
      sudoNopasswdAll: kv.sudo === "yes",
    };
  },
  plan(d, o) {
    const changes: ChangeDraft[] = [];
    const guard = { paths: [SUDOERS_FILE], reactivate: [] };
    const u = shellQuote(d.user);
    if (!o.account) {
      const groups = d.groups.length > 0 ? ` --groups ${shellQuote(d.groups.join(","))}` : "";
      changes.push({
        summary: `create user ${d.user}`,
        action: "create",
        before: { exists: false },
        after: { exists: true, shell: d.shell, groups: d.groups },
        steps: [
          {
            kind: "run",
            command: `useradd --create-home --shell ${shellQuote(d.shell)} --password '*'${groups} ${u}`,
          },
        ],
        risk: "access",
        guard,
      });
    } else {
      const missing = d.groups.filter((g) => !o.account?.groups.includes(g));
      const steps: Step[] = [];
      if (o.account.shell !== d.shell)
        steps.push({ kind: "run", command: `usermod --shell ${shellQuote(d.shell)} ${u}` });
      if (missing.length > 0)
        steps.push({
          kind: "run",
          command: `usermod --append --groups ${shellQuote(missing.join(","))} ${u}`,
        });
      if (steps.length > 0) {
        changes.push({
          summary: `user ${d.user}: ${[o.account.shell !== d.shell ? `shell ${o.account.shell} -> ${d.shell}` : "", missing.length > 0 ? `add to ${missing.join(", ")}` : ""].filter(Boolean).join(", ")}`,
          before: { shell: o.account.shell, groups: o.account.groups },
          after: { shell: d.shell, groups: [...new Set([...o.account.groups, ...d.groups])].sort() },
          steps,
          risk: "access",
          guard,
        });
      }
    }
    if (d.sudo && !o.sudoNopasswdAll) {
      changes.push({
        summary: `passwordless sudo for ${d.user} (${SUDOERS_FILE})`,
        before: { sudoNopasswdAll: false },
        after: { sudoNopasswdAll: true },
        steps: [
          {
            kind: "write",
            path: SUDOERS_FILE,
            content: sudoersContent(d.user),
            mode: "0440",
            owner: "root",
            group: "root",
            validate: `visudo -c -q -f "$1"`,
          },
        ],
        risk: "access",
        guard,
      });
    }
    return changes;
  },
};
