// Owns: net.ipv4.ip_forward, at runtime and persisted in /etc/sysctl.d/90-picotrader-ip-forward.conf.
// Runs: `sysctl -w`, one atomic file write, and a sed that comments out a later file overriding ours.
// Leaves alone: every other sysctl key (the kernel concern) and the files it does not override.
import type { Reconciler } from "../src/engine/types.js";
import {
  buildSysctlProbe,
  parseSysctlProbe,
  planSysctl,
  type SysctlDesired,
  type SysctlObserved,
} from "./lib/sysctl.js";

const KEY = "net.ipv4.ip_forward";

export const ipForward: Reconciler<SysctlDesired, SysctlObserved> = {
  name: "ip-forward",
  applies: () => true,
  desired: (_node, m) => ({
    settings: { [KEY]: m.network?.ipv4Forwarding === false ? "0" : "1" },
    file: "/etc/sysctl.d/90-picotrader-ip-forward.conf",
  }),
  probe: () => buildSysctlProbe([KEY]),
  parse: (output) => parseSysctlProbe(output, [KEY]),
  plan: planSysctl,
};
