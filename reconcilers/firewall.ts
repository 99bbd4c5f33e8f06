// Owns: ufw: its default policies (deny incoming, allow outgoing), exactly the declared allow rules
// for this node's roles, and whether it is enabled. Compared on what ufw reports (`ufw show added`,
// `ufw status`). Runs: ufw commands; SSH is allowed before anything is denied, ufw is enabled last.
// Where keepalived runs, it also lets VRRP (IP protocol 112) in from the other control-plane nodes
// through a marked block of /etc/ufw/before.rules: ufw has no rule syntax for VRRP, and a firewall
// that drops it makes both nodes hold the virtual IP.
// Leaves alone: routed/forward policy, logging, application profiles, other netfilter tables.
import { clusterPeerRules, firewallRulesFor, ufwRuleName } from "../src/manifest/defaults.js";
import { APT } from "./packages.js";
import type { ChangeDraft, Reconciler, Step } from "../src/engine/types.js";
import { shellQuote } from "../src/transport/quote.js";
import { isControlPlane } from "./lib/node.js";
import { parseKeyValues } from "./lib/text.js";

export interface FirewallDesired {
  enabled: boolean;
  /** ufw rule names, SSH first: "22/tcp", "6443/tcp". */
  allow: string[];
  /** The SSH port's rule, which must never be removed while ufw denies. */
  sshRule: string;
  /** Addresses VRRP is allowed from: the other control-plane nodes where keepalived runs. */
  vrrpFrom: string[];
}

export interface FirewallObserved {
  installed: boolean;
  active: boolean;
  incoming?: string;
  outgoing?: string;
  /** The rules ufw has, as their ufw command arguments without comments: "allow 22/tcp". */
  rules: string[];
  /** VRRP sources in our block of /etc/ufw/before.rules, and in the live ufw-before-input chain. */
  vrrp: { persisted: string[]; live: string[] };
}

const BEGIN = "# BEGIN picotrader: VRRP from the other control-plane nodes (keepalived)";
const END = "# END picotrader";

/** The VRRP sources of our block in before.rules (the probe prints only the block). Pure. */
export function parseVrrpBlock(block: string): string[] {
  return [...block.matchAll(/^-A ufw-before-input -p 112 -s (\S+) -j ACCEPT$/gm)].map((m) => m[1] as string);
}

/**
 * A command that rewrites our block of before.rules (removing it when `sources` is empty) just
 * before the filter table's last COMMIT, through a temp file and a rename. Pure.
 */
export function buildVrrpBlockCommand(sources: string[]): string {
  const block =
    sources.length === 0
      ? ""
      : [BEGIN, ...sources.map((s) => `-A ufw-before-input -p 112 -s ${s} -j ACCEPT`), END].join("\\n");
  const program = `{ l[NR] = $0; if ($0 == "COMMIT") last = NR }
END { for (i = 1; i <= NR; i++) {
  if (l[i] == b) { skip = 1; continue }
  if (skip) { if (l[i] == e) skip = 0; continue }
  if (i == last && block != "") print block
  print l[i] } }`;
  const f = "/etc/ufw/before.rules";
  return `t=$(mktemp ${f}.XXXXXX) && awk -v b=${shellQuote(BEGIN)} -v e=${shellQuote(END)} -v block=${shellQuote(block)} ${shellQuote(program)} ${f} > "$t" && chmod 0640 "$t" && mv "$t" ${f}`;
}

const GUARD = {
  paths: ["/etc/ufw", "/etc/default/ufw"],
  reactivate: [
    "if grep -qi '^ENABLED=yes' /etc/ufw/ufw.conf; then ufw --force disable >/dev/null; ufw --force enable; else ufw --force disable; fi",
  ],
};

/**
 * Parses ufw's rule tuples (`### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in`) into the
 * arguments `ufw show added` prints without comments: "allow 22/tcp"; IPv4 and IPv6 twins fold. Pure.
 */
export function parseUfwTuples(text: string): string[] {
  const rules = new Set<string>();
  for (const line of text.split("\n")) {
    const m =
      /^### tuple ### (allow|deny|reject|limit)(?:_log(?:-all)?)? (\S+) (\S+) (\S+) (\S+) (\S+) (in|out)/.exec(
        line.trim(),
      );
    if (!m) continue;
    const [, action, proto, dport, dst, sport, src, dir] = m;
    const anywhere = (a?: string) => a === "0.0.0.0/0" || a === "::/0";
    if (dir !== "in" || !anywhere(dst) || !anywhere(src) || sport !== "any") {
      // The full ufw rule syntax, which `ufw delete` accepts as it is.
      const p = proto === "any" ? "" : `proto ${proto} `;
      const from = `from ${anywhere(src) ? "any" : src}${sport === "any" ? "" : ` port ${sport}`}`;
      const to = `to ${anywhere(dst) ? "any" : dst}${dport === "any" ? "" : ` port ${dport}`}`;
      rules.add(`${action} ${dir === "out" ? "out " : ""}${p}${from} ${to}`);
      continue;
    }
    rules.add(`${action} ${dport}${proto === "any" ? "" : `/${proto}`}`);
  }
  return [...rules];
}

export const firewall: Reconciler<FirewallDesired, FirewallObserved> = {
  name: "firewall",
  // After sshd, so that a node keeps one way in while the firewall changes.
  after: ["sshd"],
  applies: () => true,
  desired(node, m) {
    const sshRule = `${node.sshPort ?? 22}/tcp`;
    const allow = [...new Set([...firewallRulesFor(node, m).map(ufwRuleName), ...clusterPeerRules(node, m)])];
    allow.sort((a, b) => (a === sshRule ? -1 : b === sshRule ? 1 : 0));
    const vrrpFrom =
      m.keepalived && isControlPlane(node)
        ? m.nodes.filter((n) => n !== node && isControlPlane(n)).map((n) => n.address)
        : [];
    return { enabled: m.firewall?.enabled ?? true, allow, sshRule, vrrpFrom };
  },
  // What `ufw status` and `ufw show added` report, read the way ufw reads it (its rule tuples in
  // user.rules, its chain in the kernel) without starting ufw's Python twice per node: one
  // iptables and one awk, which reads the kernel's rules and the three files.
  probe: () => `command -v ufw >/dev/null || { echo installed=no; exit 0; }
echo installed=yes
. /etc/default/ufw 2>/dev/null && printf 'incoming=%s\\noutgoing=%s\\n' "$DEFAULT_INPUT_POLICY" "$DEFAULT_OUTPUT_POLICY"
set -- -; for f in /etc/ufw/user.rules /etc/ufw/user6.rules /etc/ufw/before.rules; do [ -f $f ] && set -- "$@" $f; done
iptables -S 2>/dev/null | awk 'FILENAME == "-" {
  if ($0 == "-N ufw-user-input") print "Status: active"
  else if (NF == 8 && $1 == "-A" && $2 == "ufw-before-input" && $3 == "-s" && $5 == "-p" && ($6 == "vrrp" || $6 == "112") && $7 == "-j" && $8 == "ACCEPT") { s = $4; sub(/\\/.*/, "", s); print "vrrp-live " s }
  next
}
FILENAME != "/etc/ufw/before.rules" { if (index($0, "### tuple ###") == 1) print; next }
!marked { print "--- before.rules"; marked = 1 }
index($0, "# BEGIN picotrader") == 1 { inside = 1 }
inside { print }
index($0, "# END picotrader") == 1 { inside = 0 }
END { if (!marked) print "--- before.rules" }' "$@"`,
  parse(probeOutput) {
    const [output = "", beforeRules] = probeOutput.split(/^--- before\.rules\n/m);
    const vrrp = {
      persisted: parseVrrpBlock(beforeRules ?? ""),
      live: [...output.matchAll(/^vrrp-live (\S+)$/gm)].map((m) => m[1] as string),
    };
    const kv = parseKeyValues(output);
    const get = (k: string) => kv[k]?.replace(/"/g, "");
    if (get("installed") !== "yes") return { installed: false, active: false, rules: [], vrrp };
    const policy = (p: string | undefined) =>
      p === undefined
        ? undefined
        : p === "DROP"
          ? "deny"
          : p === "ACCEPT"
            ? "allow"
            : p === "REJECT"
              ? "reject"
              : p.toLowerCase();
    const incoming = policy(get("incoming"));
    const outgoing = policy(get("outgoing"));
    return {
      installed: true,
      active: /^Status: active$/m.test(output),
      ...(incoming ? { incoming } : {}),
      ...(outgoing ? { outgoing } : {}),
      rules: parseUfwTuples(output),
      vrrp,
    };
  },
  plan(d, o) {
    const changes: ChangeDraft[] = [];
    if (!o.installed) {
      changes.push({
        summary: "install ufw",
        before: { installed: false },
        after: { installed: true },
        steps: [{ kind: "run", command: `${APT} install -- ufw` }],
      });
    }
    const want = d.allow.map((r) => `allow ${r}`);
    const missing = want.filter((r) => !o.rules.includes(r));
    const extra = o.rules.filter((r) => !want.includes(r));
    const policySteps: Step[] = [];
    if (o.incoming !== "deny") policySteps.push({ kind: "run", command: "ufw default deny incoming" });
    if (o.outgoing !== "allow") policySteps.push({ kind: "run", command: "ufw default allow outgoing" });
    if (missing.length > 0 || extra.length > 0 || policySteps.length > 0) {
      changes.push({
        summary: [
          missing.length > 0 ? `allow ${missing.map((r) => r.slice(6)).join(", ")}` : "",
          extra.length > 0 ? `remove ${extra.join(", ")}` : "",
          policySteps.length > 0 ? "default deny incoming, allow outgoing" : "",
        ]
          .filter(Boolean)
          .join("; "),
        before: { rules: o.rules, incoming: o.incoming ?? "(unset)", outgoing: o.outgoing ?? "(unset)" },
        after: { rules: want, incoming: "deny", outgoing: "allow" },
        steps: [
          // Allow first (SSH leads the list), then policies, then removals: access is never cut in between.
          ...missing.map((r): Step => ({
            kind: "run",
            command: `ufw ${r.split(" ").map(shellQuote).join(" ")}`,
          })),
          ...policySteps,
          ...extra.map((r): Step => ({
            kind: "run",
            command: `ufw delete ${r.split(" ").map(shellQuote).join(" ")}`,
          })),
        ],
        risk: "access",
        guard: GUARD,
      });
    }
    const vrrpChange = planVrrp(d, o);
    if (vrrpChange) changes.push(vrrpChange);
    if (d.enabled !== o.active) {
      changes.push({
        summary: d.enabled ? "enable ufw" : "disable ufw",
        before: { active: o.active },
        after: { active: d.enabled },
        steps: [{ kind: "run", command: d.enabled ? "ufw --force enable" : "ufw --force disable" }],
        risk: "access",
        guard: GUARD,
      });
    }
    return changes;
  },
};

/** The VRRP block of before.rules and its reload, when the file or the live chain differ. Pure. */
function planVrrp(d: FirewallDesired, o: FirewallObserved): ChangeDraft | undefined {
  const same = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));
  const fileRight = same(o.vrrp.persisted, d.vrrpFrom);
  // The live chain exists only while ufw is active; an inactive ufw loads the file when enabled.
  const liveRight = !o.active || same(o.vrrp.live, d.vrrpFrom);
  if (fileRight && liveRight) return undefined;
  return {
    summary:
      d.vrrpFrom.length > 0
        ? `allow VRRP from ${d.vrrpFrom.join(", ")}`
        : "remove the VRRP rules of picotrader",
    before: { vrrp: o.vrrp.persisted, ...(o.active ? { live: o.vrrp.live } : {}) },
    after: { vrrp: d.vrrpFrom },
    steps: [
      ...(fileRight ? [] : [{ kind: "run" as const, command: buildVrrpBlockCommand(d.vrrpFrom) }]),
      { kind: "run", command: "ufw reload" },
    ],
    risk: "access",
    guard: GUARD,
  };
}
