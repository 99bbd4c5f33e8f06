import type { FirewallRule, Manifest, NodeSpec } from "./types.generated.js";

/** The Kubernetes ports opened when a manifest lists none, besides SSH on every node. */
export const DEFAULT_FIREWALL_ALLOW: FirewallRule[] = [
  { port: 22, comment: "SSH" },
  { port: 6443, roles: ["control-plane"], comment: "Kubernetes API" },
  { port: "2379:2380", roles: ["control-plane"], comment: "etcd" },
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

/** The rules that apply to a node: the manifest's (or the defaults), filtered by role. Pure. */
export function firewallRulesFor(node: NodeSpec, m: Manifest): FirewallRule[] {
  const rules = m.firewall?.allow ?? DEFAULT_FIREWALL_ALLOW;
  return rules.filter((r) => r.roles === undefined || r.roles.some((role) => node.roles.includes(role)));
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
  PICOTRADER_HOST_FINGERPRINTS: "confirmed host key fingerprints",
  PICOTRADER_LAB: "the lab's name",
  PICOTRADER_LAB_BOOT: "the lab's boot source",
  PICOTRADER_DEBUG: "the debug switch",
};
