// Every concern PicoTrader reconciles, in the order they are applied on a node (the engine
// checks that each concern's `after` list is respected). Adding a concern: one file, one line here.
import type { Reconciler } from "../src/engine/types.js";
import { adminUser } from "./admin-user.js";
import { docker } from "./docker.js";
import { firewall } from "./firewall.js";
import { haproxy } from "./haproxy.js";
import { hostname } from "./hostname.js";
import { hosts } from "./hosts.js";
import { ipForward } from "./ip-forward.js";
import { keepalived } from "./keepalived.js";
import { kernel } from "./kernel.js";
import { packages } from "./packages.js";
import { rootPassword } from "./root-password.js";
import { sshKeys } from "./ssh-keys.js";
import { sshd } from "./sshd.js";
import { swap } from "./swap.js";
import { tftpServer } from "./tftp-server.js";
import { updates } from "./updates.js";
import { boot } from "./boot.js";
import { generation } from "./generation.js";
import { etcd } from "./etcd.js";
import { postgres } from "./postgres.js";
import { storage } from "./storage.js";

export const reconcilers = [
  // Access first: every later change runs as the admin user behind the final firewall.
  hosts,
  hostname,
  adminUser,
  sshKeys,
  sshd,
  firewall,
  rootPassword,
  // The runtime.
  ipForward,
  kernel,
  swap,
  packages,
  updates,
  docker,
  // The highly available API: HAProxy must answer before keepalived claims the virtual IP.
  haproxy,
  keepalived,
  // The datastore and the database: an etcd cluster, its members made and restarted one at a
  // time; PostgreSQL under Patroni, which keeps its state in that etcd.
  etcd,
  postgres,
  // Shared files: a replicated GlusterFS volume, made once all its storage nodes run glusterd.
  storage,
  // Node lifecycle: the TFTP server, the boot source (its change ends with a reboot), and the
  // generation (a rebuild; the engine applies it alone, before anything else of the node's plan).
  tftpServer,
  boot,
  generation,
] as Reconciler[];
