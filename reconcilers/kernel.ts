// Owns: the kernel settings Kubernetes needs besides forwarding: the declared sysctl keys (runtime
// and /etc/sysctl.d/90-picotrader-kernel.conf) and the modules loaded at boot
// (/etc/modules-load.d/picotrader.conf). Runs: `modprobe`, `sysctl -w`, atomic writes.
// Leaves alone: net.ipv4.ip_forward (the ip-forward concern) and every key it was not given.
import type { ChangeDraft, Manifest, NodeSpec, Reconciler } from "../src/engine/types.js";
import { shellQuote } from "../src/transport/quote.js";
import { isControlPlane } from "./lib/node.js";
import {
  buildSysctlProbe,
  parseSysctlProbe,
  planSysctl,
  type SysctlDesired,
  type SysctlObserved,
} from "./lib/sysctl.js";

const MODULES_FILE = "/etc/modules-load.d/picotrader.conf";

/** Modules loaded at boot when the manifest lists none: what container networking needs. */
export const DEFAULT_KERNEL_MODULES = ["overlay", "br_netfilter"];

export interface KernelDesired extends SysctlDesired {
  modules: string[];
}

export interface KernelObserved extends SysctlObserved {
  /** Module names listed in our modules-load.d file; undefined when it is missing. */
  modules?: string[];
}

/** The sysctl settings of a node: the defaults, then the manifest's `kernel.sysctl` over them. Pure. */
export function kernelSettingsFor(node: NodeSpec, m: Manifest): Record<string, string> {
  const settings: Record<string, string> = {
    "net.bridge.bridge-nf-call-iptables": "1",
    "net.bridge.bridge-nf-call-ip6tables": "1",
  };
  // HAProxy binds the virtual IP on the nodes that do not hold it yet.
  if (m.haproxy && isControlPlane(node)) settings["net.ipv4.ip_nonlocal_bind"] = "1";
  for (const [k, v] of Object.entries(m.kernel?.sysctl ?? {})) settings[k] = String(v);
  return settings;
}

export function modulesContent(modules: string[]): string {
  return `# Managed by picotrader from cluster.yaml.\n${modules.map((m) => `${m}\n`).join("")}`;
}

export const kernel: Reconciler<KernelDesired, KernelObserved> = {
  name: "kernel",
  applies: (_node, m) => m.kernel !== undefined,
  desired: (node, m) => ({
    settings: kernelSettingsFor(node, m),
    file: "/etc/sysctl.d/90-picotrader-kernel.conf",
    modules: m.kernel?.modules ?? DEFAULT_KERNEL_MODULES,
  }),
  files: [MODULES_FILE],
  probe: (d) =>
    `${buildSysctlProbe(Object.keys(d.settings))}
if [ -f ${MODULES_FILE} ]; then echo '--- modules'; file_text ${MODULES_FILE}; fi`,
  parse(output) {
    const [sysctl = "", modules] = output.split(/^--- modules\n/m);
    // The keys are those the probe printed: parse reads them back from the runtime lines.
    const keys = [...sysctl.matchAll(/^runtime ([^=]+)=/gm)].map((m) => m[1] as string);
    const observed = parseSysctlProbe(sysctl, keys);
    if (modules === undefined) return observed;
    const names = modules
      .split("\n")
      .map((l) => l.replace(/[#;].*/, "").trim())
      .filter(Boolean);
    return { ...observed, modules: names };
  },
  plan(d, o) {
    const changes: ChangeDraft[] = [];
    if (o.modules?.join(" ") !== d.modules.join(" ")) {
      changes.push({
        summary: `load ${d.modules.join(", ")} at boot (${MODULES_FILE})`,
        before: { modules: o.modules ?? "(missing)" },
        after: { modules: d.modules },
        steps: [
          {
            kind: "write",
            path: MODULES_FILE,
            content: modulesContent(d.modules),
            mode: "0644",
            owner: "root",
            group: "root",
          },
          // Built-in modules (and containers) have nothing to load: a failure here is not one; a
          // sysctl key that needs a missing module fails in the next change, naming the key.
          ...d.modules.map((mod) => ({
            kind: "run" as const,
            command: `modprobe -q ${shellQuote(mod)} || echo "modprobe ${mod} failed (built in, or not available)" >&2`,
          })),
        ],
      });
    }
    return [...changes, ...planSysctl(d, o)];
  },
};
