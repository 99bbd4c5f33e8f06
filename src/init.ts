// `picotrader init`: a commented cluster.yaml for the user's boards. Building the text is pure; the
// answers come from flags, or from questions on a terminal.
import { packageRoot } from "./paths.js";
import { join } from "node:path";

/** What init asks for. */
export interface InitAnswers {
  name: string;
  subnet: string;
  virtualIp: string;
  adminUser: string;
  adminKey: string;
  workstation: string;
  nodes: { name: string; address: string; roles: string[] }[];
}

/** The schema file of this installation: the modeline editors follow, wherever the manifest lives. */
export function installedSchemaPath(): string {
  return join(packageRoot(), "schema", "cluster.schema.json");
}

/** The manifest's text, with a comment on every section. Pure. */
export function buildInitManifest(a: InitAnswers, schemaPath: string): string {
  const nodes = a.nodes.flatMap((n) => [
    `  - name: ${n.name}`,
    `    address: ${n.address}`,
    `    roles: [${n.roles.join(", ")}]`,
    "    # hostKeyFingerprint: SHA256:...   # from the board's console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub",
  ]);
  return [
    `# yaml-language-server: $schema=${schemaPath}`,
    "# The desired state of the cluster. Check it with `picotrader validate`, pin the boards' host keys",
    "# with `picotrader trust`, then see the plan with `picotrader reconcile --dry-run`.",
    "apiVersion: picotrader/v1",
    "cluster:",
    `  name: ${a.name}`,
    "  # Every node, the workstation and the virtual IP are in this subnet.",
    `  subnet: ${a.subnet}`,
    "  # The address the Kubernetes API answers on: held by one control-plane node at a time.",
    `  virtualIp: ${a.virtualIp}`,
    "# The admin user PicoTrader makes on every node (sudo, key login only); root login is then turned off.",
    "admin:",
    `  user: ${a.adminUser}`,
    "  sshKeys:",
    `    - ${a.adminKey}`,
    "# The machine PicoTrader runs on: every node lets it in through the firewall.",
    "workstation:",
    "  name: workstation",
    `  address: ${a.workstation}`,
    "network:",
    "  ipv4Forwarding: true",
    "# What Kubernetes needs on every node: swap off, the kernel settings, Docker.",
    "swap:",
    "  enabled: false",
    "kernel: {}",
    "docker: {}",
    "# keepalived moves the virtual IP between the control-plane nodes; HAProxy forwards 6443 to their",
    "# API servers. The VRRP password comes from PICOTRADER_VRRP_PASSWORD, never from this file.",
    "keepalived: {}",
    "haproxy: {}",
    "# The root password, as a hash (picotrader hash-password); the factory password is then gone.",
    '# rootPassword: { hash: "$6$..." }',
    "# Bump a node's generation to re-image it (its data is lost; reconcile asks first).",
    "nodes:",
    ...nodes,
    "",
  ].join("\n");
}

/** "192.168.0.0/24" -> the n-th host address ("192.168.0.n"), for suggestions. Pure. */
export function hostInSubnet(subnet: string, n: number): string {
  const [base] = subnet.split("/");
  const octets = (base ?? "0.0.0.0").split(".").map(Number);
  const value = ((octets[0]! << 24) >>> 0) + (octets[1]! << 16) + (octets[2]! << 8) + octets[3]! + n;
  return [24, 16, 8, 0].map((s) => (value >>> s) & 255).join(".");
}
