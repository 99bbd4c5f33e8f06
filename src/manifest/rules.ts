import { firewallRulesFor, OWNED_SYSCTL_KEYS, ruleAllowsTcp, RESERVED_ENV } from "./defaults.js";
import { requiredSecrets } from "./inputs.js";
import { explainSubnet, isHostInSubnet, parseSubnet } from "./ipv4.js";
import type { ManifestPath } from "./load.js";
import type { Manifest, NodeSpec } from "./types.generated.js";

/** A semantic problem the schema cannot express. */
export interface RuleProblem {
  path: ManifestPath;
  message: string;
}

/** A semantic rule: a small pure function of a schema-valid manifest. */
export type Rule = (m: Manifest) => RuleProblem[];

function duplicates<T>(
  items: T[],
  key: (item: T) => string | undefined,
  what: string,
  path: (i: number) => ManifestPath,
): RuleProblem[] {
  const seen = new Map<string, number>();
  const problems: RuleProblem[] = [];
  items.forEach((item, i) => {
    const k = key(item);
    if (k === undefined) return;
    const first = seen.get(k);
    if (first === undefined) seen.set(k, i);
    else problems.push({ path: path(i), message: `${what} "${k}" is already used by nodes[${first}]` });
  });
  return problems;
}

const uniqueNames: Rule = (m) =>
  duplicates(
    m.nodes,
    (n) => n.name,
    "name",
    (i) => ["nodes", i, "name"],
  );

const uniqueAddresses: Rule = (m) =>
  duplicates(
    m.nodes,
    (n) => n.address,
    "address",
    (i) => ["nodes", i, "address"],
  );

const uniqueHostnames: Rule = (m) =>
  duplicates(
    m.nodes,
    (n) => n.hostname ?? n.name,
    "hostname",
    (i) => ["nodes", i, m.nodes[i]?.hostname ? "hostname" : "name"],
  );

const subnetIsValid: Rule = (m) => {
  const why = explainSubnet(m.cluster.subnet);
  return why === undefined ? [] : [{ path: ["cluster", "subnet"], message: why }];
};

const addressesInSubnet: Rule = (m) => {
  const subnet = parseSubnet(m.cluster.subnet);
  if (!subnet) return [];
  const outside = (address: string) =>
    `${address} is not a host address of the cluster subnet ${m.cluster.subnet}`;
  const problems: RuleProblem[] = [];
  m.nodes.forEach((n, i) => {
    if (!isHostInSubnet(n.address, subnet))
      problems.push({ path: ["nodes", i, "address"], message: outside(n.address) });
  });
  if (m.cluster.virtualIp !== undefined && !isHostInSubnet(m.cluster.virtualIp, subnet)) {
    problems.push({ path: ["cluster", "virtualIp"], message: outside(m.cluster.virtualIp) });
  }
  if (m.workstation && !isHostInSubnet(m.workstation.address, subnet)) {
    problems.push({ path: ["workstation", "address"], message: outside(m.workstation.address) });
  }
  return problems;
};

const virtualIpIsFree: Rule = (m) => {
  const vip = m.cluster.virtualIp;
  if (vip === undefined) return [];
  const taken = [...m.nodes.map((n) => n.address), m.workstation?.address];
  return taken.includes(vip)
    ? [
        {
          path: ["cluster", "virtualIp"],
          message: `${vip} is the address of a host; the virtual IP must be free`,
        },
      ]
    : [];
};

const workstationIsNotANode: Rule = (m) => {
  const w = m.workstation;
  if (!w) return [];
  const problems: RuleProblem[] = [];
  if (m.nodes.some((n) => n.address === w.address))
    problems.push({ path: ["workstation", "address"], message: `${w.address} is also a node's address` });
  if (m.nodes.some((n) => n.name === w.name))
    problems.push({ path: ["workstation", "name"], message: `"${w.name}" is also a node's name` });
  return problems;
};

const controlPlaneForVirtualIp: Rule = (m) =>
  m.cluster.virtualIp !== undefined && !m.nodes.some((n) => n.roles.includes("control-plane"))
    ? [
        {
          path: ["cluster", "virtualIp"],
          message: "a virtual IP needs at least one node with the control-plane role",
        },
      ]
    : [];

const loadBalancerNeedsVirtualIp: Rule = (m) =>
  m.cluster.virtualIp === undefined
    ? (["keepalived", "haproxy"] as const)
        .filter((k) => m[k] !== undefined)
        .map((k) => ({ path: [k], message: `${k} serves cluster.virtualIp, which is not set` }))
    : [];

const keepalivedOnControlPlanes: Rule = (m) =>
  Object.keys(m.keepalived?.priorities ?? {}).flatMap((name) => {
    const node = m.nodes.find((n) => n.name === name);
    const path = ["keepalived", "priorities", name];
    if (!node) return [{ path, message: `no node named "${name}"` }];
    return node.roles.includes("control-plane")
      ? []
      : [{ path, message: `${name} has no control-plane role: keepalived runs only on control-plane nodes` }];
  });

const tftpBootNeedsServer: Rule = (m) => {
  const server = m.nodes.find((n) => n.roles.includes("tftp"));
  return m.nodes.flatMap((n, i) => {
    if (n.boot !== "tftp") return [];
    const path = ["nodes", i, "boot"];
    if (!server || !m.tftp)
      return [{ path, message: "boot: tftp needs a node with the tftp role and a tftp section" }];
    return n === server
      ? [{ path, message: `${n.name} is the TFTP server: it cannot boot from itself` }]
      : [];
  });
};

// Ownership rules: one setting, one owner. A value two sections set would be undone by one of them
// on every run; a secret's variable named by another section would send that secret elsewhere.

/** sshd keywords that dedicated fields own, by lowercase name; and those that change what follows. */
const SSHD_OWNED: Record<string, string> = {
  permitrootlogin: "ssh.permitRootLogin",
  passwordauthentication: "ssh.passwordAuthentication",
};
const SSHD_REFUSED = new Set(["match", "include"]);

const sshSettingsOwnedOnce: Rule = (m) =>
  Object.keys(m.ssh?.settings ?? {}).flatMap((key) => {
    const path = ["ssh", "settings", key];
    const owner = SSHD_OWNED[key.toLowerCase()];
    if (owner !== undefined) return [{ path, message: `${key} is set by ${owner}, not by ssh.settings` }];
    return SSHD_REFUSED.has(key.toLowerCase())
      ? [
          {
            path,
            message: `${key} is refused in ssh.settings: it would change how sshd reads every later line`,
          },
        ]
      : [];
  });

const sysctlOwnedOnce: Rule = (m) =>
  Object.keys(m.kernel?.sysctl ?? {}).flatMap((key) => {
    const owner = OWNED_SYSCTL_KEYS[key];
    return owner === undefined
      ? []
      : [{ path: ["kernel", "sysctl", key], message: `${key} is set by ${owner}, not by kernel.sysctl` }];
  });

/** Each secret's variable is its own: not a setting of the controller's, nor another secret's. */
const secretVariableIsOwn: Rule = (m) => {
  const named: { path: ManifestPath; variable: string | undefined; what: string; why?: string }[] = [
    {
      path: ["keepalived", "passwordEnv"],
      variable: m.keepalived?.passwordEnv,
      what: "the VRRP password",
      why: " (it goes out in clear VRRP packets)",
    },
    {
      path: ["postgres", "passwordEnv"],
      variable: m.postgres?.passwordEnv,
      what: "the superuser's password",
    },
    {
      path: ["postgres", "replicationPasswordEnv"],
      variable: m.postgres?.replicationPasswordEnv,
      what: "the replication password",
    },
  ];
  const inUse = requiredSecrets(m).map((n) => n.variable);
  return named.flatMap(({ path, variable, what, why = "" }) => {
    if (variable === undefined) return [];
    const use = RESERVED_ENV[variable];
    if (use !== undefined)
      return [{ path, message: `${variable} holds ${use}: ${what} needs a variable of its own${why}` }];
    return inUse.filter((v) => v === variable).length > 1
      ? [
          {
            path,
            message: `${variable} is named for another secret too: ${what} needs a variable of its own`,
          },
        ]
      : [];
  });
};

/** The database keeps its state in the etcd cluster, on nodes with the role, on ports of its own. */
const postgresNeeds: Rule = (m) => {
  const p = m.postgres;
  if (!p) return roleWithoutSection(m, "database", "postgres");
  const problems: RuleProblem[] = [];
  if (!m.etcd)
    problems.push({
      path: ["postgres"],
      message: "postgres keeps Patroni's state in etcd: add an etcd section",
    });
  if (!m.nodes.some((n) => n.roles.includes("database")))
    problems.push({ path: ["postgres"], message: "postgres needs at least one node with the role database" });
  const ports: [string, number][] = [
    ["port", p.port ?? 5432],
    ["replicaPort", p.replicaPort ?? 5433],
    ["restApiPort", p.restApiPort ?? 8008],
  ];
  const taken = new Map<number, string>([
    [m.etcd?.clientPort ?? 2379, "etcd.clientPort"],
    [m.etcd?.peerPort ?? 2380, "etcd.peerPort"],
    ...(m.haproxy ? [[m.haproxy.port ?? 6443, "haproxy.port"] as [number, string]] : []),
  ]);
  for (const [key, port] of ports) {
    const other = taken.get(port);
    if (other) problems.push({ path: ["postgres", key], message: `port ${port} is also ${other}` });
    else taken.set(port, `postgres.${key}`);
  }
  return problems;
};

// Access rules: a manifest that would cut the operator off by construction is refused before any
// connection.

const firewallAllowsSsh: Rule = (m) => {
  if (m.firewall?.enabled === false) return [];
  return m.nodes.flatMap((n, i) =>
    firewallRulesFor(n, m).some((r) => ruleAllowsTcp(r, n.sshPort ?? 22))
      ? []
      : [
          {
            path: m.firewall?.allow === undefined ? ["nodes", i, "sshPort"] : ["firewall", "allow"],
            message: `no rule ${m.firewall?.allow === undefined ? "of the default firewall list " : ""}allows SSH (${n.sshPort ?? 22}/tcp) on nodes[${i}] (${n.name}): it would be cut off`,
          },
        ],
  );
};

const rootLoginNeedsAdminKey: Rule = (m) =>
  m.ssh?.permitRootLogin !== true && m.admin.sshKeys.length === 0
    ? [
        {
          path: ["admin", "sshKeys"],
          message: "root login would be turned off with no key for the admin user: nobody could log in",
        },
      ]
    : [];

const adminNeedsSudo: Rule = (m) =>
  m.admin.sudo === false
    ? [
        {
          path: ["admin", "sudo"],
          message: "the admin user needs sudo: PicoTrader logs in as it and works as root through sudo",
        },
      ]
    : [];

/** A problem for each node with `role` (the manifest lacks the section that role needs). */
function roleWithoutSection(m: Manifest, role: NodeSpec["roles"][number], section: string): RuleProblem[] {
  return m.nodes.flatMap((n, i) =>
    n.roles.includes(role)
      ? [
          {
            path: ["nodes", i, "roles"],
            message: `${n.name} has the role ${role}, but the manifest has no ${section} section`,
          },
        ]
      : [],
  );
}

/**
 * etcd: the role and the section go together; an odd number of members (an even one tolerates no
 * more failures than one fewer, and splits evenly); an election timeout of at least 5 heartbeats.
 */
const etcdMembers: Rule = (m) => {
  const members = m.nodes.filter((n) => n.roles.includes("etcd"));
  if (!m.etcd) return roleWithoutSection(m, "etcd", "etcd");
  const problems: RuleProblem[] = [];
  if (members.length % 2 === 0)
    problems.push({
      path: ["etcd"],
      message: `etcd needs an odd number of nodes with the role etcd (1, 3 or 5), not ${members.length}`,
    });
  const heartbeat = m.etcd.heartbeatMs ?? 100;
  const election = m.etcd.electionMs ?? 1000;
  if (election < 5 * heartbeat)
    problems.push({
      path: ["etcd", "electionMs"],
      message: `the election timeout (${election} ms) must be at least 5 heartbeats (${5 * heartbeat} ms)`,
    });
  if ((m.etcd.clientPort ?? 2379) === (m.etcd.peerPort ?? 2380))
    problems.push({ path: ["etcd", "peerPort"], message: "the peer port must differ from the client port" });
  return problems;
};

/** Folders a storage path may not be or be inside: the system's own, and GlusterFS's state. */
const SYSTEM_PATHS = [
  "/bin",
  "/boot",
  "/dev",
  "/etc",
  "/lib",
  "/lib64",
  "/media/boot",
  "/proc",
  "/root",
  "/run",
  "/sbin",
  "/sys",
  "/tmp",
  "/usr",
  "/var",
];

/** True when `path` is `dir` or inside it. Pure. */
function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

/**
 * Storage: the role and the section go together; the storage nodes make whole replica sets; an
 * arbiter only with replica 3; bricks and the mount outside the system's folders and apart.
 */
const storageNeeds: Rule = (m) => {
  const s = m.storage;
  if (!s) return roleWithoutSection(m, "storage", "storage");
  const problems: RuleProblem[] = [];
  const servers = m.nodes.filter((n) => n.roles.includes("storage")).length;
  const replica = s.replica ?? 3;
  if (servers === 0 || servers % replica !== 0)
    problems.push({
      path: ["storage"],
      message: `storage needs whole replica sets: the number of nodes with the role storage (${servers}) must be a multiple of replica (${replica}), and not 0`,
    });
  if (s.arbiter === true && replica !== 3)
    problems.push({
      path: ["storage", "arbiter"],
      message: `only replica 3 may have an arbiter, not replica ${replica}`,
    });
  const brickRoot = s.brickRoot ?? "/data/gluster";
  const mountPath = s.mountPath ?? "/mnt/shared";
  for (const [key, path] of [
    ["brickRoot", brickRoot],
    ["mountPath", mountPath],
  ] as const) {
    const system = SYSTEM_PATHS.find((dir) => within(path, dir));
    if (system)
      problems.push({ path: ["storage", key], message: `${path} is inside ${system}: the system's own` });
  }
  if (within(mountPath, brickRoot) || within(brickRoot, mountPath))
    problems.push({
      path: ["storage", "mountPath"],
      message: `the mount (${mountPath}) and the bricks (${brickRoot}) must not be inside each other`,
    });
  return problems;
};

/** The rules that refuse a manifest cutting access by construction (tests of the guard leave them out). */
export const accessRules: Rule[] = [firewallAllowsSsh, rootLoginNeedsAdminKey, adminNeedsSudo];

/** Every semantic rule, applied in this order; all problems are reported together. */
export const rules: Rule[] = [
  uniqueNames,
  uniqueAddresses,
  uniqueHostnames,
  subnetIsValid,
  addressesInSubnet,
  virtualIpIsFree,
  workstationIsNotANode,
  controlPlaneForVirtualIp,
  loadBalancerNeedsVirtualIp,
  keepalivedOnControlPlanes,
  tftpBootNeedsServer,
  sshSettingsOwnedOnce,
  sysctlOwnedOnce,
  secretVariableIsOwn,
  etcdMembers,
  postgresNeeds,
  storageNeeds,
  ...accessRules,
];
