// Owns: /etc/hostname and the kernel's (transient) hostname.
// Runs: `hostname NAME` after writing /etc/hostname; nothing else.
// Leaves alone: /etc/hosts (the hosts concern) and the pretty hostname of hostnamectl.
import type { ChangeDraft, Reconciler } from "../src/engine/types.js";
import { nodeHostname } from "./lib/node.js";
import { parseKeyValues } from "./lib/text.js";

export interface HostnameDesired {
  hostname: string;
}

export interface HostnameObserved {
  /** First non-comment line of /etc/hostname; undefined when the file is missing or empty. */
  static?: string;
  transient: string;
}

export const hostname: Reconciler<HostnameDesired, HostnameObserved> = {
  name: "hostname",
  // /etc/hosts must name the new hostname first, or sudo warns that it cannot resolve it.
  after: ["hosts"],
  applies: () => true,
  desired: (node) => ({ hostname: nodeHostname(node) }),
  probe:
    // The shell's own read: the first line of /etc/hostname that is not a comment, trimmed, and
    // the kernel's hostname (what \`hostname\` prints). No process.
    () => `s=; { while IFS= read -r l || [ -n "$l" ]; do l=\${l#"\${l%%[![:space:]]*}"}; l=\${l%"\${l##*[![:space:]]}"}; case $l in '#'*) continue ;; esac; s=$l; break; done < /etc/hostname; } 2>/dev/null
t=; read -r t 2>/dev/null < /proc/sys/kernel/hostname
printf 'static=%s\\ntransient=%s\\n' "$s" "$t"`,
  parse(output) {
    const kv = parseKeyValues(output);
    return { static: kv.static || undefined, transient: kv.transient ?? "" };
  },
  plan(d, o) {
    if (o.static === d.hostname && o.transient === d.hostname) return [];
    const steps: ChangeDraft["steps"] = [];
    if (o.static !== d.hostname) {
      steps.push({
        kind: "write",
        path: "/etc/hostname",
        content: `${d.hostname}\n`,
        mode: "0644",
        owner: "root",
        group: "root",
      });
    }
    if (o.transient !== d.hostname) steps.push({ kind: "run", command: `hostname ${d.hostname}` });
    const was = o.static === o.transient ? o.transient : `${o.static ?? "(none)"}/${o.transient}`;
    return [
      {
        summary: `hostname ${was} -> ${d.hostname}`,
        before:
          o.static === undefined ? { transient: o.transient } : { static: o.static, transient: o.transient },
        after: { static: d.hostname, transient: d.hostname },
        steps,
      },
    ];
  },
};
