import type { FirewallRule, Manifest, NodeSpec } from "./types.generated.js";

/** Kubernetes' own etcd on the control plane: dropped from the defaults when the manifest has an etcd section. */
const KUBERNETES_ETCD_RULE: FirewallRule = { port: "2379:2380", roles: ["control-plane"], comment: "etcd" };

/** The Kubernetes ports opened when a manifest lists none, besides SSH on every node. */
export const DEFAULT_FIREWALL_ALLOW: FirewallRule[] = [
  { port: 22, comment: "SSH" },
  { port: 6443, roles: ["control-plane"], comment: "Kubernetes API" },
  KUBERNETES_ETCD_RULE,
  { port: 10250, comment: "kubelet" },
  { port: 10257, roles: ["control-plane"], comment: "kube-controller-manager" },
  { port: 10259, roles: ["control-plane"], comment: "kube-scheduler" },
  { port: "30000:32767", roles: ["worker"], comment: "NodePort services" },
  { port: 69, proto: "udp", roles: ["tftp"], comment: "TFTP boot and re-imaging" },
];

/** A firewall rule as ufw names it: `22/tcp`, `30000:32767/tcp`. */
export function ufwRuleName(rule: FirewallRule): string {
  return `${rule.port}/${rule.proto ?? "tcp"}`;
}

/**
 * The rules that apply to a node: the manifest's (or the defaults), filtered by role. With an etcd
 * section, the defaults do not open etcd's ports to everyone: the etcd nodes open them to each
 * other only (etcdPeerRules). Pure.
 */
export function firewallRulesFor(node: NodeSpec, m: Manifest): FirewallRule[] {
  const rules =
    m.firewall?.allow ?? DEFAULT_FIREWALL_ALLOW.filter((r) => !m.etcd || r !== KUBERNETES_ETCD_RULE);
  return rules.filter((r) => r.roles === undefined || r.roles.some((role) => node.roles.includes(role)));
}

/**
 * ufw rules (in its full syntax) that let the other etcd nodes reach this one's client and peer
 * ports; [] for a node without the role or a manifest without etcd. Pure.
 */
export function etcdPeerRules(node: NodeSpec, m: Manifest): string[] {
  if (!m.etcd || !node.roles.includes("etcd")) return [];
  const ports = `${m.etcd.clientPort ?? 2379},${m.etcd.peerPort ?? 2380}`;
  return m.nodes
    .filter((n) => n !== node && n.roles.includes("etcd"))
    .map((n) => `proto tcp from ${n.address} to any port ${ports}`);
}

/** True when `rule` lets TCP traffic to `port` in. */
export function ruleAllowsTcp(rule: FirewallRule, port: number): boolean {
  if ((rule.proto ?? "tcp") !== "tcp") return false;
  if (typeof rule.port === "number") return rule.port === port;
  const [from, to] = rule.port.split(":").map(Number);
  return from !== undefined && to !== undefined && port >= from && port <= to;
}

/** The controller's environment variable holding the VRRP password when the manifest names none. */
export const DEFAULT_VRRP_PASSWORD_ENV = "PICOTRADER_VRRP_PASSWORD";

/**
 * sysctl keys that a dedicated section owns, with that section: kernel.sysctl may not set them
 * (`net.ipv4.conf.all.forwarding` is the same switch as `net.ipv4.ip_forward`).
 */
export const OWNED_SYSCTL_KEYS: Readonly<Record<string, string>> = {
  "net.ipv4.ip_forward": "network.ipv4Forwarding",
  "net.ipv4.conf.all.forwarding": "network.ipv4Forwarding",
};

/** The controller's own PICOTRADER_ variables, with what they hold: no section may name them as a secret. */
export const RESERVED_ENV: Readonly<Record<string, string>> = {
  PICOTRADER_BOOTSTRAP_PASSWORD: "the bootstrap password",
  PICOTRADER_IDENTITY: "the SSH key's path",
  PICOTRADER_KNOWN_HOSTS: "the known_hosts path",
  PICOTRADER_PKI: "the etcd CA's folder",
  PICOTRADER_HOST_FINGERPRINTS: "confirmed host key fingerprints",
  PICOTRADER_LAB: "the lab's name",
  PICOTRADER_LAB_BOOT: "the lab's boot source",
  PICOTRADER_DEBUG: "the debug switch",
};
