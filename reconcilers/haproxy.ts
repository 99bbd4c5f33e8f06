// Owns: /etc/haproxy/haproxy.cfg and the haproxy service on control-plane nodes: a TCP frontend on
// the virtual IP forwarding to every control-plane node's API server, with health checks (and, with
// a database, its primary's and replicas' ports, checked through Patroni); on other
// nodes, that haproxy does not run. Runs: a write validated by `haproxy -c`, then a reload (or a
// start). Leaves alone: /etc/default/haproxy, drop-ins, and the package (the packages concern).
import type { Manifest, NodeSpec, Reconciler } from "../src/engine/types.js";
import { isControlPlane } from "./lib/node.js";
import {
  buildServiceProbe,
  parseServiceProbe,
  planService,
  type ServiceDesired,
  type ServiceObserved,
} from "./lib/service.js";
import { normaliseConfigLines } from "./lib/text.js";

const CONFIG = "/etc/haproxy/haproxy.cfg";

/** haproxy.cfg for a control-plane node: the same on each of them. Pure. */
export function buildHaproxyConfig(m: Manifest): string {
  const h = m.haproxy ?? {};
  const check = h.checkInterval ?? "2s";
  const servers = m.nodes
    .filter(isControlPlane)
    .map(
      (n) => `  server ${n.name} ${n.address}:${h.backendPort ?? 6443} check inter ${check} fall 3 rise 2`,
    );
  return [
    "# Managed by picotrader from cluster.yaml: the Kubernetes API on the virtual IP.",
    "global",
    "  log /dev/log local0",
    "  maxconn 4096",
    "defaults",
    "  mode tcp",
    "  log global",
    "  option tcplog",
    "  timeout connect 5s",
    "  timeout client 1h",
    "  timeout server 1h",
    "frontend kubernetes-api",
    `  bind ${m.cluster.virtualIp ?? "0.0.0.0"}:${h.port ?? 6443}`,
    "  default_backend kubernetes-api",
    "backend kubernetes-api",
    `  balance ${h.balance ?? "roundrobin"}`,
    "  option tcp-check",
    ...servers,
    ...buildPostgresProxies(m),
    "",
  ].join("\n");
}

/**
 * With a database: the primary's port and the replicas' on the virtual IP, each server checked
 * through Patroni's REST API (`/primary`, `/replica` answer 200 only on such a member); a server
 * marked down has its sessions shut, so that no client stays on a demoted primary. Pure.
 */
export function buildPostgresProxies(m: Manifest): string[] {
  const p = m.postgres;
  if (!p) return [];
  const vip = m.cluster.virtualIp ?? "0.0.0.0";
  const members = m.nodes.filter((n) => n.roles.includes("database"));
  const proxy = (name: string, port: number, check: string) => [
    `listen ${name}`,
    `  bind ${vip}:${port}`,
    "  option httpchk",
    `  http-check send meth GET uri ${check}`,
    "  http-check expect status 200",
    `  default-server inter 2s fall 2 rise 2 on-marked-down shutdown-sessions port ${p.restApiPort ?? 8008}`,
    ...members.map((n) => `  server ${n.name} ${n.address}:${p.port ?? 5432} check`),
  ];
  return [
    ...proxy("postgres", p.port ?? 5432, "/primary"),
    ...proxy("postgres-replicas", p.replicaPort ?? 5433, "/replica"),
  ];
}

export const haproxy: Reconciler<ServiceDesired, ServiceObserved> = {
  name: "haproxy",
  rolling: true,
  // The kernel concern lets it bind the virtual IP before this node holds it.
  after: ["packages", "kernel", "firewall"],
  applies: (_node, m) => m.haproxy !== undefined,
  desired(node: NodeSpec, m: Manifest): ServiceDesired {
    if (!isControlPlane(node)) return { run: false };
    const content = buildHaproxyConfig(m);
    return { run: true, content, lines: normaliseConfigLines(content) };
  },
  units: ["haproxy"],
  files: [CONFIG],
  probe: () => buildServiceProbe("haproxy", CONFIG),
  parse(output) {
    const { config, ...state } = parseServiceProbe(output);
    return config === undefined ? state : { ...state, config: normaliseConfigLines(config) };
  },
  plan: (d, o) => planService("haproxy", CONFIG, d, o, { mode: "0644", validate: 'haproxy -c -q -f "$1"' }),
};
