// Every concern PicoTrader reconciles, in the order they are applied on a node (the engine
// checks that each concern's `after` list is respected). Adding a concern: one file, one line here.
import type { Reconciler } from "../src/engine/types.js";
import { adminUser } from "./admin-user.js";
import { firewall } from "./firewall.js";
import { hostname } from "./hostname.js";
import { hosts } from "./hosts.js";
import { ipForward } from "./ip-forward.js";
import { sshKeys } from "./ssh-keys.js";
import { sshd } from "./sshd.js";

export const reconcilers = [hosts, hostname, adminUser, sshKeys, sshd, firewall, ipForward] as Reconciler[];
