// Owns: /etc/keepalived/keepalived.conf and the keepalived service on control-plane nodes: one VRRP
// instance holding the cluster's virtual IP, priorities by node order (or declared), a password
// from the controller's environment, and a check that gives the IP up where HAProxy is down; on
// other nodes, that keepalived does not run. Runs: a write validated by `keepalived -t`, a reload
// (or a start). Leaves alone: the firewall's VRRP rules (the firewall concern), the package.
import type { Inputs, Manifest, NodeSpec, Reconciler } from "../src/engine/types.js";
import { DEFAULT_VRRP_PASSWORD_ENV } from "../src/manifest/defaults.js";
import { PicoError } from "../src/errors.js";
import { isControlPlane } from "./lib/node.js";
import {
  buildServiceProbe,
  parseServiceProbe,
  planService,
  type ServiceDesired,
  type ServiceObserved,
} from "./lib/service.js";
import { maskSecret } from "./lib/secret.js";
import { normaliseConfigLines } from "./lib/text.js";

const CONFIG = "/etc/keepalived/keepalived.conf";

export type KeepalivedDesired =
  | { run: false }
  | {
      run: true;
      /** The config with `@INTERFACE@` where the observed interface goes when none is declared. */
      template: string;
      /** The node's address, to find its interface. */
      address: string;
    };

export interface KeepalivedObserved extends ServiceObserved {
  /** The interface that carries each IPv4 address of the node. */
  interfaces: Record<string, string>;
}

/** The VRRP priority of a control-plane node: declared, else 150 for the first, 149 for the next... */
export function vrrpPriority(node: NodeSpec, m: Manifest): number {
  const declared = m.keepalived?.priorities?.[node.name];
  if (declared !== undefined) return declared;
  return 150 - m.nodes.filter(isControlPlane).findIndex((n) => n.name === node.name);
}

/** keepalived.conf for a node, with `interface` (or the `@INTERFACE@` placeholder). Pure. */
export function buildKeepalivedConfig(node: NodeSpec, m: Manifest, password: string, iface: string): string {
  const k = m.keepalived ?? {};
  const prefix = m.cluster.subnet.split("/")[1] ?? "32";
  const tracked = m.haproxy !== undefined;
  return [
    "# Managed by picotrader from cluster.yaml: the virtual IP of the control plane.",
    "global_defs {",
    `  router_id ${node.name}`,
    "  enable_script_security",
    "  script_user root",
    "}",
    ...(tracked
      ? [
          "vrrp_script haproxy_running {",
          '  script "/usr/bin/systemctl is-active --quiet haproxy"',
          "  interval 2",
          "  fall 2",
          "  rise 2",
          "}",
        ]
      : []),
    "vrrp_instance control_plane {",
    // Every node starts as backup; the highest priority wins, and wins back the IP when it returns.
    "  state BACKUP",
    `  interface ${iface}`,
    `  virtual_router_id ${k.routerId ?? 51}`,
    `  priority ${vrrpPriority(node, m)}`,
    "  advert_int 1",
    "  authentication {",
    "    auth_type PASS",
    // VRRPv2 uses the first 8 characters; keepalived warns and truncates longer ones.
    `    auth_pass ${password.slice(0, 8)}`,
    "  }",
    "  virtual_ipaddress {",
    `    ${m.cluster.virtualIp}/${prefix} dev ${iface}`,
    "  }",
    ...(tracked ? ["  track_script {", "    haproxy_running", "  }"] : []),
    "}",
    "",
  ].join("\n");
}

/** Meaningful config lines with the password replaced by its keyed stand-in, so facts and plans never hold it. */
export function maskedConfigLines(text: string): string[] {
  return normaliseConfigLines(text).map((line) =>
    line.startsWith("auth_pass ") ? `auth_pass ${maskSecret(line.slice(10))}` : line,
  );
}

export const keepalived: Reconciler<KeepalivedDesired, KeepalivedObserved> = {
  name: "keepalived",
  rolling: true,
  after: ["packages", "firewall", "haproxy"],
  applies: (_node, m) => m.keepalived !== undefined,
  desired(node: NodeSpec, m: Manifest, inputs: Inputs): KeepalivedDesired {
    if (!isControlPlane(node)) return { run: false };
    const variable = m.keepalived?.passwordEnv ?? DEFAULT_VRRP_PASSWORD_ENV;
    const password = inputs.secrets[variable];
    if (password === undefined) throw new PicoError(`keepalived: the secret ${variable} was not read`);
    const template = buildKeepalivedConfig(node, m, password, m.keepalived?.interface ?? "@INTERFACE@");
    return { run: true, template, address: node.address };
  },
  // The addresses come first: the config file is the last part of the service probe.
  units: ["keepalived"],
  files: [CONFIG],
  probe: () => `ip -o -4 addr show | while read -r _ dev _ cidr _; do echo "address $dev $cidr"; done
${buildServiceProbe("keepalived", CONFIG)}`,
  parse(output) {
    const { config, ...state } = parseServiceProbe(output);
    const interfaces: Record<string, string> = {};
    const head = output.split(/^--- config$/m)[0] ?? "";
    for (const m of head.matchAll(/^address (\S+) ([^/\s]+)/gm)) interfaces[m[2] as string] = m[1] as string;
    return {
      ...state,
      interfaces,
      ...(config === undefined ? {} : { config: maskedConfigLines(config) }),
    };
  },
  plan(d, o) {
    let desired: ServiceDesired = { run: false };
    if (d.run) {
      const iface = o.interfaces[d.address];
      if (iface === undefined && d.template.includes("@INTERFACE@"))
        throw new PicoError(
          `keepalived: no interface of this node carries ${d.address}; declare keepalived.interface`,
        );
      const content = d.template.replaceAll("@INTERFACE@", iface ?? "");
      desired = { run: true, content, lines: maskedConfigLines(content) };
    }
    return planService("keepalived", CONFIG, desired, o, {
      mode: "0600",
      validate: 'keepalived -t -f "$1"',
      sensitive: true,
    });
  },
};
