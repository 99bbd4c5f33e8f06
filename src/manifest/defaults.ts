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

/** glusterd's management ports, and the range GlusterFS 10 picks its brick ports from (glusterd.vol). */
export const GLUSTER_MANAGEMENT_PORTS = "24007:24008";
export const GLUSTER_BRICK_PORTS = "49152:60999";

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
 * ufw rules (in its full syntax) that open the datastore's and the database's ports only to the
 * nodes that need them: etcd's client and peer ports between etcd nodes (and to database nodes,
 * whose Patroni keeps its state there); PostgreSQL and Patroni's REST API between database nodes
 * and to control-plane nodes (HAProxy's checks and connections); on control-plane nodes, the
 * database's ports on the virtual IP to everyone, as the API's; on storage nodes, glusterd's and the
 * bricks' ports to every other node of the manifest (the storage nodes' peers, and every node mounts
 * the volume). Pure.
 */
export function clusterPeerRules(node: NodeSpec, m: Manifest): string[] {
  const rules: string[] = [];
  const from = (roles: string[], ports: string) =>
    m.nodes
      .filter((n) => n !== node && roles.some((r) => n.roles.includes(r as NodeSpec["roles"][number])))
      .forEach((n) => rules.push(`proto tcp from ${n.address} to any port ${ports}`));
  if (m.etcd && node.roles.includes("etcd"))
    from(
      m.postgres ? ["etcd", "database"] : ["etcd"],
      `${m.etcd.clientPort ?? 2379},${m.etcd.peerPort ?? 2380}`,
    );
  if (m.postgres && node.roles.includes("database"))
    from(["database", "control-plane"], `${m.postgres.port ?? 5432},${m.postgres.restApiPort ?? 8008}`);
  if (m.postgres && m.haproxy && node.roles.includes("control-plane"))
    rules.push(`${m.postgres.port ?? 5432}/tcp`, `${m.postgres.replicaPort ?? 5433}/tcp`);
  if (m.storage && node.roles.includes("storage"))
    m.nodes
      .filter((n) => n !== node)
      .forEach((n) =>
        rules.push(
          `proto tcp from ${n.address} to any port ${GLUSTER_MANAGEMENT_PORTS},${GLUSTER_BRICK_PORTS}`,
        ),
      );
  return [...new Set(rules)];
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
/** The controller's environment variables holding the database's passwords when the manifest names none. */
export const DEFAULT_POSTGRES_PASSWORD_ENV = "PICOTRADER_POSTGRES_PASSWORD";
export const DEFAULT_REPLICATION_PASSWORD_ENV = "PICOTRADER_POSTGRES_REPLICATION_PASSWORD";

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
