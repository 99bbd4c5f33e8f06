// Every concern PicoTrader reconciles, in the order they are applied on a node (the engine
// checks that each concern's `after` list is respected). Adding a concern: one file, one line here.
import type { Reconciler } from "../src/engine/types.js";
import { hostname } from "./hostname.js";
import { hosts } from "./hosts.js";
import { ipForward } from "./ip-forward.js";

export const reconcilers: Reconciler[] = [hosts, hostname, ipForward] as Reconciler[];
