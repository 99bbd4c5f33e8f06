/* Generated from schema/cluster.schema.json by `npm run gen:types`. Do not edit. */

/**
 * A host name (RFC 1123 label).
 */
export type Hostname = string;
/**
 * A plain Debian package name: lowercase letters, digits, + - . ; no trailing '-' (apt reads it as "remove"), no version pins (=), releases (/), globs or patterns.
 */
export type PackageName = string;
/**
 * A JSON value whose strings and keys are free text (no control characters).
 */
export type JsonValue =
  | Text
  | number
  | boolean
  | null
  | JsonValue[]
  | {
      [k: string]: JsonValue;
    };
/**
 * Free text: anything printable, no control characters (newline, CR, tab, NUL, U+0085, U+2028, U+2029), at most 200 characters.
 */
export type Text = string;

/**
 * PicoTrader's desired state of one cluster: cluster.yaml.
 */
export interface Manifest {
  /**
   * Version of this file's format.
   */
  apiVersion: "picotrader/v1";
  /**
   * Stop applying to every node; plans, status and drift reports go on. Default: false.
   */
  suspend?: boolean;
  watch?: WatchPolicy;
  cluster: Cluster;
  admin: Admin;
  workstation?: Workstation;
  ssh?: SshPolicy;
  rootPassword?: RootPassword;
  firewall?: Firewall;
  network?: Network;
  packages?: Packages;
  updates?: Updates;
  docker?: Docker;
  swap?: Swap;
  kernel?: Kernel;
  keepalived?: Keepalived;
  haproxy?: Haproxy;
  etcd?: Etcd;
  postgres?: Postgres;
  storage?: Storage;
  tftp?: Tftp;
  /**
   * The managed nodes (Odroid C2 boards), in order; the order sets keepalived priorities.
   *
   * @minItems 1
   */
  nodes: [NodeSpec, ...NodeSpec[]];
}
/**
 * How `picotrader watch` applies changes.
 */
export interface WatchPolicy {
  /**
   * Let watch mode apply changes that reboot or re-image nodes. Default: false (they stay pending and visible).
   */
  applyDisruptive?: boolean;
}
/**
 * Settings of the whole cluster.
 */
export interface Cluster {
  /**
   * Name of the cluster, used in reports.
   */
  name: string;
  /**
   * The IPv4 subnet every node, the workstation and the virtual IP live in, in CIDR form.
   */
  subnet: string;
  /**
   * The virtual IP that keepalived moves between control-plane nodes; HAProxy serves the Kubernetes API on it.
   */
  virtualIp?: string;
}
/**
 * The operator's account on every node.
 */
export interface Admin {
  /**
   * Login name of the admin user, who gets passwordless sudo.
   */
  user: string;
  /**
   * Public SSH keys (authorized_keys lines) that may log in as the admin user.
   */
  sshKeys: string[];
  /**
   * Login shell of the admin user: an absolute path of plain names. Default: /bin/bash.
   */
  shell?: string;
  /**
   * Supplementary groups of the admin user, besides its own. Default: none (sudo comes from a sudoers drop-in).
   */
  groups?: string[];
  /**
   * Passwordless sudo for the admin user, through /etc/sudoers.d/90-picotrader-admin. PicoTrader needs it. Default: true.
   */
  sudo?: boolean;
}
/**
 * The control workstation that runs PicoTrader; listed in every node's /etc/hosts, never reconciled.
 */
export interface Workstation {
  /**
   * A host name (RFC 1123 label).
   */
  name: string;
  /**
   * IPv4 address of the workstation.
   */
  address: string;
}
/**
 * How sshd on the nodes lets people in (an sshd_config.d drop-in, compared on `sshd -T`).
 */
export interface SshPolicy {
  /**
   * Allow root to log in over SSH. Default: false (turned off only after the admin user's key login is proven).
   */
  permitRootLogin?: boolean;
  /**
   * Allow password logins. Default: false.
   */
  passwordAuthentication?: boolean;
  /**
   * Modern algorithms only (KexAlgorithms, Ciphers, MACs, HostKeyAlgorithms without NIST curves, ECDSA, SHA-1 or CBC: what ssh-audit passes). false leaves sshd's defaults, for old clients. Default: true.
   */
  hardened?: boolean;
  /**
   * More sshd settings for the drop-in, as sshd_config names them; compared on `sshd -T`. PermitRootLogin and PasswordAuthentication belong to their own fields; Match and Include are refused (they would change the meaning of what follows). Values: printable ASCII, single-line, no '#' or quotes. A value sshd rejects is refused by `sshd -t` before anything changes.
   */
  settings?: {
    [k: string]: string | number;
  };
}
/**
 * root's password on every node, as a sha512-crypt hash (`picotrader hash-password` makes one). Compared with /etc/shadow, never printed. Absent: not managed.
 */
export interface RootPassword {
  /**
   * A sha512-crypt hash: $6$salt$... (optionally $6$rounds=N$salt$...).
   */
  hash: string;
}
/**
 * ufw on every node: default deny inbound, allow outbound, and only the listed ports.
 */
export interface Firewall {
  /**
   * Whether ufw is active. Default: true.
   */
  enabled?: boolean;
  /**
   * Inbound ports to allow. Default: SSH on every node; 6443, 2379-2380, 10250, 10257, 10259 on control-plane nodes; 10250 and 30000-32767 on workers; 69/udp on the tftp node. Must include the SSH port.
   *
   * @minItems 1
   */
  allow?: [FirewallRule, ...FirewallRule[]];
}
export interface FirewallRule {
  /**
   * A port (22) or a range ("30000:32767").
   */
  port: number | string;
  /**
   * Default: tcp.
   */
  proto?: "tcp" | "udp";
  /**
   * Only on nodes with one of these roles. Default: every node.
   *
   * @minItems 1
   */
  roles?: [
    "control-plane" | "worker" | "tftp" | "etcd" | "database" | "storage",
    ...("control-plane" | "worker" | "tftp" | "etcd" | "database" | "storage")[]
  ];
  /**
   * Why the port is open.
   */
  comment?: string;
}
/**
 * Network settings of every node.
 */
export interface Network {
  /**
   * net.ipv4.ip_forward, at runtime and persisted in /etc/sysctl.d. Kubernetes needs it on. Default: true.
   */
  ipv4Forwarding?: boolean;
  /**
   * More /etc/hosts entries on every node, after the cluster's own.
   */
  extraHosts?: HostEntry[];
}
export interface HostEntry {
  /**
   * The address the names resolve to on every node.
   */
  address: string;
  /**
   * Host names for that address, written to /etc/hosts.
   *
   * @minItems 1
   */
  names: [Hostname, ...Hostname[]];
}
/**
 * Debian packages installed on every node from the node's own apt sources, besides those the docker, keepalived and haproxy sections need. Absent: no extra packages.
 */
export interface Packages {
  /**
   * Package names; installed when missing (never upgraded or removed here: apt runs with --no-remove). The apt index is refreshed only when one has no candidate.
   */
  install: PackageName[];
}
/**
 * Package upgrades as a policy: the observed fact is the list of upgradable packages (the apt index is refreshed when older than a day). Applied one node at a time, as HAProxy and keepalived changes are. Absent: not managed.
 */
export interface Updates {
  /**
   * none: never upgrade; security: only upgrades from a security origin; all: every upgrade (apt-get upgrade: nothing removed, nothing new installed).
   */
  policy: "none" | "security" | "all";
  /**
   * when-required: reboot after upgrades when the node asks for it (/var/run/reboot-required), one node at a time; never: leave that to the operator. Default: never.
   */
  reboot?: "never" | "when-required";
}
/**
 * Docker on every node: the package installed, /etc/docker/daemon.json as declared, the service enabled and running (restarted only when daemon.json changes). Absent: Docker is not managed.
 */
export interface Docker {
  /**
   * A plain Debian package name: lowercase letters, digits, + - . ; no trailing '-' (apt reads it as "remove"), no version pins (=), releases (/), globs or patterns.
   */
  package?: string;
  /**
   * The whole of /etc/docker/daemon.json, compared as JSON. Default: the systemd cgroup driver (as the kubelet expects) and json-file logs limited to 3 files of 100m.
   */
  daemon?: {
    [k: string]: JsonValue;
  };
}
/**
 * Swap on every node. Absent: swap is not managed.
 */
export interface Swap {
  /**
   * false (what the kubelet needs): no active swap, swap lines of /etc/fstab commented out with a note, swap units and zram swap masked. true: swap left as it is.
   */
  enabled: boolean;
}
/**
 * Kernel settings Kubernetes needs besides forwarding, at runtime and persisted (/etc/sysctl.d/90-picotrader-kernel.conf, /etc/modules-load.d/picotrader.conf). Absent: not managed.
 */
export interface Kernel {
  /**
   * sysctl settings on every node. Default: net.bridge.bridge-nf-call-iptables and -ip6tables = 1; control-plane nodes also get net.ipv4.ip_nonlocal_bind = 1 when HAProxy is declared (it binds the virtual IP on nodes that do not hold it). A key managed by another section (net.ipv4.ip_forward: network.ipv4Forwarding) is refused. Values: printable ASCII on one line.
   */
  sysctl?: {
    [k: string]: string | number;
  };
  /**
   * Kernel modules loaded at boot. Default: overlay, br_netfilter.
   */
  modules?: string[];
}
/**
 * keepalived on the control-plane nodes: one VRRP instance holding cluster.virtualIp, which leaves a node whose HAProxy is down. The firewall lets VRRP in from the other control-plane nodes. Other nodes must not run it. Absent: not managed.
 */
export interface Keepalived {
  /**
   * The network interface for VRRP and the virtual IP. Default: the interface that carries the node's address, as observed.
   */
  interface?: string;
  /**
   * virtual_router_id, unique on the network segment. Default: 51.
   */
  routerId?: number;
  /**
   * VRRP priority per control-plane node name. Default: from the node order, 150 for the first control-plane node, then 149, 148...
   */
  priorities?: {
    [k: string]: number;
  };
  /**
   * The environment variable of the controller that holds the VRRP password (at most 8 characters are used): a PICOTRADER_… name that is not another secret's or setting's (not the bootstrap password, identity or known_hosts). Never in Git, never printed. Default: PICOTRADER_VRRP_PASSWORD.
   */
  passwordEnv?: string;
}
/**
 * HAProxy on the control-plane nodes: a TCP frontend on the virtual IP forwarding to every control-plane node's API server, with health checks; its configuration is checked with haproxy -c before it is reloaded. Other nodes must not run it. Absent: not managed.
 */
export interface Haproxy {
  /**
   * The frontend port on the virtual IP. Default: 6443.
   */
  port?: number;
  /**
   * The API server port on each control-plane node's own address (the API server must bind that address, not 0.0.0.0, when both ports are the same). Default: 6443.
   */
  backendPort?: number;
  /**
   * HAProxy's balance algorithm. Default: roundrobin.
   */
  balance?: "roundrobin" | "leastconn" | "source";
  /**
   * Time between health checks of a backend, in HAProxy's units. Default: 2s.
   */
  checkInterval?: string;
}
/**
 * An etcd cluster (etcd 3.4) on the nodes with the role etcd: an odd number of members, TLS for peers and clients with a cluster CA that the controller makes and keeps outside Git (its key 0600, never printed). Members join one at a time, as learners first; a member whose data directory exists is never bootstrapped again; restarts roll one member at a time and wait until the cluster is healthy again. Absent: not managed.
 */
export interface Etcd {
  /**
   * The client port (TLS). Default: 2379.
   */
  clientPort?: number;
  /**
   * The peer port (TLS). Default: 2380.
   */
  peerPort?: number;
  /**
   * The space the data may take before etcd refuses writes (--quota-backend-bytes), in MiB. Default: 512: a quarter of a 2 GB board's memory, since etcd maps its data into memory.
   */
  quotaBackendMiB?: number;
  /**
   * The leader's heartbeat interval, in ms. Default: 100 (etcd's). Raise it with electionMs on slow networks or boards.
   */
  heartbeatMs?: number;
  /**
   * The election timeout, in ms: at least 5 heartbeats (etcd's rule). Default: 1000 (etcd's).
   */
  electionMs?: number;
}
/**
 * PostgreSQL 15 run by Patroni on the nodes with the role database, with the etcd section's cluster as its store of state (certificates of the same CA). HAProxy on the virtual IP sends `port` to the primary only and `replicaPort` to the replicas, from Patroni's REST checks. The Patroni settings shared by the cluster (ttl, loop_wait, synchronous_mode, PostgreSQL parameters) change through Patroni's dynamic configuration; a change that needs a restart rolls. Needs etcd. Absent: not managed.
 */
export interface Postgres {
  /**
   * Patroni's synchronous_mode: a commit is acknowledged only once a standby has it, so a failover never loses an acknowledged commit. Off, commits are faster and a primary without a standby goes on writing, but a failover may lose the last acknowledged commits. Default: true.
   */
  synchronousMode?: boolean;
  /**
   * The PostgreSQL port on each node, and the primary's port on the virtual IP. Default: 5432.
   */
  port?: number;
  /**
   * The replicas' (read-only) port on the virtual IP. Default: 5433.
   */
  replicaPort?: number;
  /**
   * Patroni's REST API on each node (its health checks). Default: 8008.
   */
  restApiPort?: number;
  /**
   * Seconds the primary's leader key lives in etcd: a primary that cannot renew it is replaced after at most ttl. Default: 30.
   */
  ttl?: number;
  /**
   * Seconds between Patroni's checks. Default: 10.
   */
  loopWait?: number;
  /**
   * Seconds Patroni retries etcd and PostgreSQL before it demotes a primary. Default: 10.
   */
  retryTimeout?: number;
  /**
   * shared_buffers, in MiB (a restart applies it). Default: 256: an eighth of a 2 GB board, which also runs etcd and Docker.
   */
  sharedBuffersMiB?: number;
  /**
   * max_connections (a restart applies it). Default: 50.
   */
  maxConnections?: number;
  /**
   * The environment variable of the controller that holds the password of the superuser postgres: a PICOTRADER_… name that is not another secret's or setting's. Never in Git, never printed; stored 0600 on the nodes. Default: PICOTRADER_POSTGRES_PASSWORD.
   */
  passwordEnv?: string;
  /**
   * The environment variable of the controller that holds the password of the replication user replicator: a PICOTRADER_… name that is not another secret's or setting's. Never in Git, never printed; stored 0600 on the nodes. Default: PICOTRADER_POSTGRES_REPLICATION_PASSWORD.
   */
  replicationPasswordEnv?: string;
}
/**
 * A replicated GlusterFS volume (GlusterFS 10) from the free space of the nodes with the role storage, one brick each, mounted with FUSE at mountPath on every node of the manifest. For files the nodes share (configuration, uploads, backups), not for databases: PostgreSQL and etcd keep their own replication. Server quorum and client quorum are on: with most bricks of a replica set gone, writes are refused rather than split. The volume is never created twice; a node added to the storage nodes adds its brick, a node removed has its data moved off first (a destroy change, confirmed); a re-imaged node's new, empty brick replaces its old one and heals from the others. Absent: not managed.
 */
export interface Storage {
  /**
   * The volume's name. Default: shared.
   */
  volume?: string;
  /**
   * The folder on each storage node under which its brick lives, on a data partition (the brick is BRICKROOT/VOLUME-gGENERATION: a re-imaged node brings a new one). Made when missing, unless that would put it on the root filesystem: refused then, unless allowRootFs. An absolute path of plain names (no '.' or '..' parts). Default: /data/gluster.
   */
  brickRoot?: string;
  /**
   * Let bricks live on the root filesystem (GlusterFS refuses that without force: a full brick then fills the system's disk). Default: false.
   */
  allowRootFs?: boolean;
  /**
   * Where every node mounts the volume (a systemd mount unit, after the network is online). An absolute path of plain names. Default: /mnt/shared.
   */
  mountPath?: string;
  /**
   * Copies of each file, one per node of a replica set: the number of storage nodes must be a multiple of it (more sets distribute the files among them). Default: 3.
   */
  replica?: number;
  /**
   * With replica 3: the third brick of each set holds only names and metadata (an arbiter), which keeps quorum and prevents split brain for a third of the space. Default: true with replica 3; only replica 3 may have one.
   */
  arbiter?: boolean;
  /**
   * Volume options (`gluster volume set`) on top of the defaults cluster.server-quorum-type: server and cluster.quorum-type: auto. Keys are GlusterFS option names, values plain words.
   */
  options?: {
    [k: string]: string;
  };
}
/**
 * The TFTP server of the cluster (tftpd-hpa) on the node with the tftp role, serving c2/ (the minimal image in parts, with SHA256SUMS) and c2/boot/ (kernel and boot files) for `boot: tftp` and re-imaging. Absent: not managed.
 */
export interface Tftp {
  /**
   * The folder on the controller whose files the server must serve, relative to this file and inside its folder (made by `picotrader tftp-prepare`): no absolute path, no `..`; symlinks are refused, inside it or on the way to it.
   */
  root: string;
}
export interface NodeSpec {
  /**
   * A host name (RFC 1123 label).
   */
  name: string;
  /**
   * IPv4 address PicoTrader connects to.
   */
  address: string;
  /**
   * SSH port. Default: 22.
   */
  sshPort?: number;
  /**
   * The node's SSH host key fingerprint as `ssh-keygen -lf` prints it, confirmed on the board's console: the bootstrap password may go to this key even when known_hosts does not list it yet. Default: only keys pinned before the run.
   */
  hostKeyFingerprint?: string;
  /**
   * A host name (RFC 1123 label).
   */
  hostname?: string;
  /**
   * What the node does: control-plane nodes hold the virtual IP and run HAProxy; etcd nodes are the members of the etcd cluster; database nodes run PostgreSQL under Patroni; storage nodes hold the bricks of the GlusterFS volume (every node mounts it).
   *
   * @minItems 1
   */
  roles: [
    "control-plane" | "worker" | "tftp" | "etcd" | "database" | "storage",
    ...("control-plane" | "worker" | "tftp" | "etcd" | "database" | "storage")[]
  ];
  /**
   * Build generation: raising it re-images the node. Default: 1.
   */
  generation?: number;
  /**
   * Where the node boots from. Default: emmc.
   */
  boot?: "emmc" | "tftp";
  /**
   * Stop applying to this node; it is still observed and reported. Default: false.
   */
  suspend?: boolean;
}
