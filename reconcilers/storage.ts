// Owns: the GlusterFS volume of the storage section: glusterd on the nodes with the role storage,
// their trusted pool and bricks (BRICKROOT/VOLUME-gGENERATION), the volume (made once, by the last
// storage node; started; its options), its membership (new replica sets added, removed ones
// drained first, a re-imaged node's new brick in place of its old one), the start hook that mounts
// it on storage nodes, and on every node the systemd mount unit at mountPath. Runs: the gluster CLI
// on the node itself (glusterd accepts pool changes only from inside the pool), systemctl, mkdir.
// Leaves alone: the packages (the packages concern), the firewall's ports (the firewall concern),
// rebalancing (asked for by hand), options the manifest never set.
import type { ChangeDraft, Manifest, NodeSpec, Peers, Reconciler, Step } from "../src/engine/types.js";
import { PicoError } from "../src/errors.js";
import { shellQuote } from "../src/transport/quote.js";
import { retryEachSecond } from "./lib/retry.js";

const GLUSTERD = "/var/lib/glusterd";
const GLUSTER = "gluster --mode=script";

/** The options every volume gets, under the manifest's: server quorum and client quorum on. */
export const DEFAULT_VOLUME_OPTIONS: Readonly<Record<string, string>> = {
  "cluster.server-quorum-type": "server",
  "cluster.quorum-type": "auto",
};

/** A storage node as the volume knows it. */
export interface StorageServer {
  name: string;
  address: string;
  /** Its brick's path: brickRoot/volume-gGENERATION. */
  brick: string;
}

export interface StorageDesired {
  node: string;
  address: string;
  volume: string;
  /** This node holds a brick (the role storage); else it only mounts the volume. */
  server: boolean;
  brickRoot: string;
  allowRootFs: boolean;
  /** Every storage node, in the manifest's order. */
  servers: StorageServer[];
  replica: number;
  arbiter: boolean;
  /** Option name → value, sorted by name. */
  options: Record<string, string>;
  mountPath: string;
  mountUnit: string;
  /** The mount unit file's content. */
  unit: string;
  /** The glusterd start hook's path and content (storage nodes). */
  hookPath: string;
  hook: string;
  /** The manifest's node names, in order (clients after the volume's maker mount in the same run). */
  order: string[];
}

/** A brick as glusterd's volume store lists it, in the volume's order. */
export interface ObservedBrick {
  address: string;
  path: string;
  uuid: string;
}

export interface ObservedVolume {
  id: string;
  started: boolean;
  replica: number;
  arbiter: number;
  options: Record<string, string>;
  bricks: ObservedBrick[];
}

export interface StorageObserved {
  glusterd: { active: boolean; enabled: boolean };
  /** This node's glusterd identity (glusterd.info); undefined before its first start. */
  uuid?: string;
  /** The pool's other members as this node's glusterd stores them. */
  peers: { uuid: string; address: string }[];
  /** The volume as this node's glusterd stores it; undefined when it knows none. */
  volume?: ObservedVolume;
  brickRoot: boolean;
  /** The brick root (or its nearest existing parent) is on the root filesystem. */
  brickRootOnRootFs: boolean;
  brickFreeKiB?: number;
  brickDir: boolean;
  /** The bricks whose process runs on this node, by pid file name (brickStem). */
  bricksOnline: string[];
  hook: boolean;
  /** The mount unit's file; undefined when missing. */
  unit?: string;
  unitEnabled: boolean;
  mounted: boolean;
  /** Mounted, but the mount does not answer (its client died: "Transport endpoint is not connected"). */
  mountBroken: boolean;
  /**
   * Entries this node's brick holds for a heal (its index, `.glusterfs/indices/xattrop`: what
   * `gluster volume heal VOLUME statistics heal-count` counts for the brick); undefined without one.
   */
  healPending?: number;
  /**
   * The first storage node only, and only while its brick holds entries to heal: the bricks
   * ("ADDRESS:PATH PID") that glusterd lists as running but without a TCP port, which no client can
   * reach (seen after two nodes booted at once: their writes wait for a heal that cannot run).
   */
  bricksWithoutPort?: string[];
  /** The pid of each brick process running here, by pid file name (brickStem). */
  brickPids?: Record<string, string>;
}

/** systemd's name for the mount unit of `path` (systemd-escape --path --suffix=mount). Pure. */
export function mountUnitName(path: string): string {
  const escape = (part: string) =>
    part.replace(/[^A-Za-z0-9:_.]|^\./g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  return `${path.slice(1).split("/").map(escape).join("-")}.mount`;
}

/** A storage node's brick: under the brick root, named after the volume and the node's generation. Pure. */
export function brickPath(node: NodeSpec, m: Manifest): string {
  return `${m.storage?.brickRoot ?? "/data/gluster"}/${m.storage?.volume ?? "shared"}-g${node.generation ?? 1}`;
}

/** The mount unit for a node: from its own glusterd on a storage node, else the first one. Pure. */
export function buildMountUnit(node: NodeSpec, m: Manifest): string {
  const volume = m.storage?.volume ?? "shared";
  const servers = m.nodes.filter((n) => n.roles.includes("storage"));
  const server = node.roles.includes("storage");
  const main = server ? node : (servers[0] as NodeSpec);
  const backups = servers.filter((n) => n !== main).map((n) => n.address);
  return [
    "# Managed by picotrader from cluster.yaml: the GlusterFS volume of the storage section.",
    "[Unit]",
    `Description=GlusterFS volume ${volume}`,
    "Wants=network-online.target",
    `After=network-online.target${server ? " glusterd.service" : ""}`,
    "[Mount]",
    `What=${main.address}:/${volume}`,
    `Where=${m.storage?.mountPath ?? "/mnt/shared"}`,
    "Type=glusterfs",
    `Options=_netdev${backups.length ? `,backup-volfile-servers=${backups.join(":")}` : ""}`,
    "[Install]",
    "WantedBy=remote-fs.target",
    "",
  ].join("\n");
}

/** glusterd runs its start hooks on every node of the pool: this one mounts the volume there. Pure. */
function buildHook(volume: string, unit: string): string {
  return `#!/bin/sh
# Managed by picotrader: glusterd runs this on every node of the pool when a volume starts;
# it mounts the volume ${volume} here.
case " $* " in *" --volname=${volume} "*) systemctl start --no-block ${shellQuote(unit)} ;; esac
exit 0
`;
}

/** What glusterd names a brick's pid file, without .pid: its host, then its path with / as -. Pure. */
export function brickStem(address: string, path: string): string {
  return `${address}-${path.slice(1).replace(/\//g, "-")}`;
}

/** Shell: true when process `pid` (a number, or an expansion of one) is a brick's, glusterfsd. Pure. */
function isBrickProcess(pid: string): string {
  return `{ read comm < /proc/${pid}/comm && [ "$comm" = glusterfsd ]; } 2>/dev/null`;
}

/**
 * Waits until the brick at `path` runs here: glusterd says it is online with a TCP port (after
 * glusterd starts, it may restart a brick that ran on), and its pid file names a live glusterfsd. Pure.
 */
function brickOnlineWait(d: StorageDesired, path: string): string {
  return retry(
    `${GLUSTER} volume status ${d.volume} ${d.address}:${path} --xml 2>/dev/null | awk -F'[<>]' '$2 == "status" { s = $3 } $2 == "tcp" { p = $3 } END { exit !(s == 1 && p ~ /^[0-9]+$/) }' && read pid < /var/run/gluster/vols/${d.volume}/${brickStem(d.address, path)}.pid 2>/dev/null && ${isBrickProcess("$pid")}`,
    30,
    `the brick ${path} did not start`,
  );
}

/**
 * `command` retried each second while it fails, for at most `seconds`; then its last output and
 * `why`. For gluster commands that the pool refuses until every glusterd sees every other. Pure.
 */
function retryGluster(command: string, seconds: number, why: string): string {
  return retryEachSecond({
    command,
    tries: seconds,
    failure: `storage: ${why} (${seconds} s tried)`,
    output: true,
  });
}

/** A command that retries `command` each second until it succeeds, for at most `seconds`, else fails with `why`. Pure. */
function retry(command: string, seconds: number, why: string): string {
  return retryEachSecond({ command, tries: seconds, failure: `storage: ${why} (${seconds} s waited)` });
}

/** `gluster volume set` for each option that differs from the observed ones. Pure. */
function optionSteps(d: StorageDesired, observed: Record<string, string>): Step[] {
  return Object.entries(d.options)
    .filter(([k, v]) => observed[k] !== v)
    .map(([k, v]) => ({
      kind: "run" as const,
      command: `${GLUSTER} volume set ${d.volume} ${k} ${shellQuote(v)}`,
    }));
}

/** The steps that probe `addresses` into the pool and wait until each is connected. Pure. */
function probeSteps(addresses: string[]): Step[] {
  return addresses.map((a) => ({
    kind: "run" as const,
    command: `${retry(`${GLUSTER} peer probe ${a} >/dev/null 2>&1`, 120, `glusterd on ${a} does not accept the probe`)}
${retry(`${GLUSTER} pool list | awk -v a=${a} '$2 == a && $3 == "Connected" { f = 1 } END { exit !f }'`, 60, `${a} is not connected to the pool`)}`,
  }));
}

/** mkdir of the brick root, refused on the root filesystem unless the manifest allows it. Pure. */
function brickRootSteps(d: StorageDesired, o: StorageObserved): Step[] {
  if (o.brickRoot) return [];
  if (o.brickRootOnRootFs && !d.allowRootFs)
    throw new PicoError(
      `storage: ${d.brickRoot} on ${d.node} would be on the root filesystem: mount a data partition there first, or set storage.allowRootFs`,
    );
  return [{ kind: "run", command: `mkdir -p ${d.brickRoot}` }];
}

/** A storage node's pool view: its own when it knows the volume, else the first peer's that does. Pure. */
function volumeView(
  d: StorageDesired,
  o: StorageObserved,
  peers: Peers<StorageObserved>,
): { via: StorageServer; volume: ObservedVolume } | undefined {
  const self = d.servers.find((s) => s.name === d.node);
  if (o.volume && self) return { via: self, volume: o.volume };
  for (const s of d.servers) {
    const v = peers[s.name]?.volume;
    if (v) return { via: s, volume: v };
  }
  return undefined;
}

/** The volume made by the last storage node, once every storage node can be reached. Pure. */
function planCreate(d: StorageDesired, o: StorageObserved, peers: Peers<StorageObserved>): ChangeDraft[] {
  const others = d.servers.filter((s) => s.name !== d.node);
  const unobserved = others.filter((s) => peers[s.name] === undefined);
  if (unobserved.length > 0)
    throw new PicoError(
      `storage: no node knows the volume ${d.volume} yet, and ${unobserved.map((s) => s.name).join(", ")} could not be observed: whether to make it is unknown`,
    );
  // Bricks left by a volume whose state is lost: GlusterFS's force (allowRootFs) would take them.
  const withBricks = d.servers.filter((s) => (s.name === d.node ? o : peers[s.name])?.brickDir);
  if (withBricks.length > 0)
    throw new PicoError(
      `storage: no node knows the volume ${d.volume}, but ${withBricks.map((s) => `${s.name} (${s.brick})`).join(", ")} hold a brick: a volume is never made over old bricks; move them aside first`,
    );
  const last = d.servers[d.servers.length - 1] as StorageServer;
  if (last.name !== d.node) return [];
  const layout = `replica ${d.replica}${d.arbiter ? " arbiter 1" : ""}`;
  const bricks = d.servers.map((s) => `${s.address}:${s.brick}`).join(" ");
  return [
    {
      summary: `make the GlusterFS volume ${d.volume} (${layout}) from the bricks of ${d.servers.map((s) => s.name).join(", ")}, set its options and start it`,
      action: "create",
      before: { volume: false },
      after: {
        volume: d.volume,
        layout,
        bricks: d.servers.map((s) => `${s.name}:${s.brick}`),
        options: d.options,
      },
      steps: [
        ...probeSteps(others.map((s) => s.address)),
        {
          kind: "run",
          // Each peer stages the creation, and one that has not met another peer yet refuses it
          // ("Host ... not connected"): a pool this run just made settles in a few seconds.
          command: retryEachSecond({
            command: `${GLUSTER} volume info ${d.volume} >/dev/null 2>&1 || ${GLUSTER} volume create ${d.volume} ${layout} ${bricks}${d.allowRootFs ? " force" : ""}`,
            tries: 60,
            failure: `storage: the volume ${d.volume} could not be made: its peers were still not all connected to each other after 60 s`,
            onlyWhile: ["not connected"],
          }),
        },
        ...optionSteps(d, {}),
        {
          kind: "run",
          command: `${GLUSTER} volume info ${d.volume} | grep -q '^Status: Started' || ${GLUSTER} volume start ${d.volume}`,
        },
        // The start hook mounts it everywhere else; here the mount is waited for.
        { kind: "run", command: `systemctl start ${shellQuote(d.mountUnit)}` },
      ],
      // After every other node of this run (the rolling phase, last storage node last).
      risk: "restart",
    },
  ];
}

/**
 * A storage node the volume lists but whose glusterd does not know it: re-imaged. It takes its old
 * identity back (the UUID its brick is listed under), rejoins the pool through a member, and its
 * new, empty brick replaces the old one, which heals it from the others. Pure.
 */
function planRejoin(d: StorageDesired, via: StorageServer, listed: ObservedBrick): ChangeDraft[] {
  const me = d.servers.find((s) => s.name === d.node) as StorageServer;
  if (listed.path === me.brick)
    throw new PicoError(
      `storage: ${d.node} lost its brick ${me.brick}, which the volume ${d.volume} still lists: raise its generation (a rebuild brings a new brick, which replaces the old one)`,
    );
  const info = `${GLUSTERD}/glusterd.info`;
  return [
    {
      summary: `rejoin ${d.node} to the pool through ${via.name} as ${listed.uuid}, and replace its lost brick ${listed.path} with ${me.brick} (healed from the other bricks)`,
      action: "create",
      before: { volume: false, brick: listed.path },
      after: { volume: d.volume, brick: me.brick },
      steps: [
        {
          kind: "run",
          // Its old identity before glusterd ever runs here again, so no peer meets a stranger.
          command: `systemctl stop glusterd; mkdir -p ${GLUSTERD} || exit 1
if [ -f ${info} ]; then sed -i 's/^UUID=.*/UUID=${listed.uuid}/' ${info}; else printf 'UUID=%s\\n' ${listed.uuid} > ${info}; fi
systemctl enable -q glusterd && systemctl start glusterd`,
        },
        {
          kind: "run",
          // The pool hands the volume over once glusterd meets it again after the probe; a restart
          // or two may be needed (GlusterFS's own advice for a peer brought back).
          command: `${retry(`${GLUSTER} peer probe ${via.address} >/dev/null 2>&1`, 60, `${via.address} does not take ${d.node} back`)}
n=0; until [ -f ${GLUSTERD}/vols/${d.volume}/info ]; do
  n=$((n+1)); [ $n -gt 3 ] && { echo "storage: the volume ${d.volume} did not reach ${d.node} after 3 restarts of glusterd" >&2; exit 1; }
  systemctl restart glusterd || exit 1; i=0; while [ $i -lt 20 ] && [ ! -f ${GLUSTERD}/vols/${d.volume}/info ]; do sleep 1; i=$((i+1)); done
done
${retry(`${GLUSTER} pool list | awk 'NR > 1 { n++; if ($3 != "Connected") bad = 1 } END { exit !(n >= ${d.servers.length} && !bad) }'`, 60, `the pool is not connected to ${d.node} again`)}`,
        },
        {
          kind: "run",
          command: retryGluster(
            `${GLUSTER} volume replace-brick ${d.volume} ${d.address}:${listed.path} ${d.address}:${me.brick} commit force`,
            60,
            `the brick ${listed.path} could not be replaced`,
          ),
        },
        { kind: "run", command: brickOnlineWait(d, me.brick) },
        // The self-heal daemons fill the new brick now.
        { kind: "run", command: healWait(d, { bricks: d.servers.length }) },
        { kind: "run", command: `systemctl start ${shellQuote(d.mountUnit)}` },
      ],
      risk: "restart",
    },
  ];
}

/**
 * Heals the volume and waits until its bricks all answer with nothing left to heal (`bricks`: how
 * many it has), or until one brick does (`brick`, "address:path": the entries a node's own brick
 * holds; each node that holds some waits for its own, so no two wait for the same): two minutes at
 * most, then the heal goes on by itself. An index heal is started every 10 s, since a self-heal
 * daemon that missed a brick's return would otherwise wait for its 10-minute crawl (seen in the
 * lab). A brick that cannot be reached answers "Number of entries: -", which is not nothing (once
 * taken for 0: the wait ended while a brick had just come back, and the verify found the entries
 * still there). Pure.
 */
export function healWait(
  d: Pick<StorageDesired, "volume">,
  until: { bricks: number } | { brick: string },
): string {
  const [counted, answers] =
    "brick" in until
      ? [`/^Brick / { b = $0 } /^Number of entries:/ && b == "Brick ${until.brick}"`, 1]
      : ["/^Number of entries:/", until.bricks];
  return `i=0; while [ $i -lt 120 ]; do [ $((i % 10)) -eq 0 ] && ${GLUSTER} volume heal ${d.volume} >/dev/null 2>&1; ${GLUSTER} volume heal ${d.volume} statistics heal-count 2>/dev/null | awk '${counted} { n++; if ($4 ~ /^[0-9]+$/) s += $4; else bad = 1 } END { exit !(n == ${answers} && s == 0 && !bad) }' && break; i=$((i+1)); sleep 1; done`;
}

/** Bricks of the volume in replica sets, in its order. Pure. */
function replicaSets(v: ObservedVolume): ObservedBrick[][] {
  const sets: ObservedBrick[][] = [];
  for (let i = 0; i < v.bricks.length; i += v.replica) sets.push(v.bricks.slice(i, i + v.replica));
  return sets;
}

/**
 * What the first storage node does for the volume: start it, set its options, add the bricks of
 * new storage nodes, drain and remove those of nodes the manifest no longer has. Pure.
 */
function planVolume(d: StorageDesired, v: ObservedVolume): ChangeDraft[] {
  const changes: ChangeDraft[] = [];
  if (!v.started)
    changes.push({
      summary: `start the GlusterFS volume ${d.volume}`,
      before: { started: false },
      after: { started: true },
      steps: [{ kind: "run", command: `${GLUSTER} volume start ${d.volume}` }],
    });
  const options = optionSteps(d, v.options);
  if (options.length > 0) {
    const differ = Object.keys(d.options).filter((k) => v.options[k] !== d.options[k]);
    changes.push({
      summary: `set ${differ.map((k) => `${k} ${v.options[k] ?? "(default)"} -> ${d.options[k]}`).join(", ")} on the volume ${d.volume}`,
      before: Object.fromEntries(differ.map((k) => [k, v.options[k] ?? null])),
      after: Object.fromEntries(differ.map((k) => [k, d.options[k]])),
      steps: options,
    });
  }
  const listed = new Set(v.bricks.map((b) => b.address));
  const added = d.servers.filter((s) => !listed.has(s.address));
  if (added.length > 0) {
    if (added.length % v.replica !== 0)
      throw new PicoError(
        `storage: ${added.map((s) => s.name).join(", ")} would join the volume ${d.volume}, which takes bricks in sets of ${v.replica}`,
      );
    changes.push({
      summary: `add the bricks of ${added.map((s) => s.name).join(", ")} to the volume ${d.volume} (files are spread to them only by a rebalance, asked for by hand)`,
      action: "create",
      before: { bricks: v.bricks.map((b) => `${b.address}:${b.path}`) },
      after: {
        bricks: [
          ...v.bricks.map((b) => `${b.address}:${b.path}`),
          ...added.map((s) => `${s.address}:${s.brick}`),
        ],
      },
      steps: [
        ...probeSteps(added.map((s) => s.address)),
        {
          kind: "run",
          command: `${GLUSTER} volume add-brick ${d.volume} ${added.map((s) => `${s.address}:${s.brick}`).join(" ")}`,
        },
      ],
      risk: "restart",
    });
  }
  const wanted = new Set(d.servers.map((s) => s.address));
  const gone = replicaSets(v).filter((set) => set.some((b) => !wanted.has(b.address)));
  const partial = gone.filter((set) => set.some((b) => wanted.has(b.address)));
  if (partial.length > 0)
    throw new PicoError(
      `storage: the manifest drops ${partial
        .flat()
        .filter((b) => !wanted.has(b.address))
        .map((b) => b.address)
        .join(", ")} but not the rest of its replica set: a volume loses whole replica sets only`,
    );
  if (gone.length > 0) {
    const bricks = gone.flat().map((b) => `${b.address}:${b.path}`);
    const list = bricks.join(" ");
    changes.push({
      summary: `move the files off ${bricks.join(", ")}, then remove those bricks from the volume ${d.volume} and their nodes from the pool`,
      action: "remove",
      before: { bricks: v.bricks.map((b) => `${b.address}:${b.path}`) },
      after: { bricks: v.bricks.filter((b) => wanted.has(b.address)).map((b) => `${b.address}:${b.path}`) },
      steps: [
        {
          kind: "run",
          command: `${GLUSTER} volume remove-brick ${d.volume} ${list} status >/dev/null 2>&1 || ${GLUSTER} volume remove-brick ${d.volume} ${list} start`,
        },
        {
          kind: "run",
          // Every brick's migration must say completed; a failed one stops here, nothing removed.
          command: `i=0; while :; do s=$(${GLUSTER} volume remove-brick ${d.volume} ${list} status) || exit 1
echo "$s" | grep -q failed && { echo "storage: moving the files off failed:" >&2; echo "$s" >&2; exit 1; }
[ "$(echo "$s" | grep -c completed)" -ge ${gone.flat().length} ] && break
i=$((i+1)); [ $i -ge 3600 ] && { echo "storage: moving the files off took more than an hour; the bricks stay" >&2; exit 1; }; sleep 1; done`,
        },
        { kind: "run", command: `${GLUSTER} volume remove-brick ${d.volume} ${list} commit` },
        ...[...new Set(gone.flat().map((b) => b.address))].map((a) => ({
          kind: "run" as const,
          command: `${GLUSTER} peer detach ${a}`,
        })),
      ],
      risk: "destroy",
    });
  }
  return changes;
}

/** A storage node's own part: glusterd, its brick root, the start hook, its membership. Pure. */
function planServer(d: StorageDesired, o: StorageObserved, peers: Peers<StorageObserved>): ChangeDraft[] {
  const changes: ChangeDraft[] = [];
  const view = volumeView(d, o, peers);
  // The volume lists this node's brick by the name it had when it was made or last replaced.
  const listed = view?.volume.bricks.find((b) => b.address === d.address);
  // Listed, but its glusterd does not know the volume: it lost its state (re-imaged).
  const rejoining = !o.volume && listed !== undefined;
  const setup = brickRootSteps(d, o);
  // A rejoining node starts glusterd only under its old identity (planRejoin).
  const start = !rejoining && (!o.glusterd.active || !o.glusterd.enabled);
  if (start || setup.length > 0)
    changes.push({
      summary: [
        ...(setup.length ? [`make the brick root ${d.brickRoot}`] : []),
        ...(start ? [`${o.glusterd.enabled ? "" : "enable and "}start glusterd`] : []),
      ].join("; "),
      before: { glusterd: o.glusterd, brickRoot: o.brickRoot },
      after: { glusterd: { active: true, enabled: true }, brickRoot: true },
      steps: [
        ...setup,
        ...(start
          ? [{ kind: "run" as const, command: "systemctl enable -q glusterd && systemctl start glusterd" }]
          : []),
        // glusterd starts the brick of a started volume by itself, a moment later: waited for.
        ...(start && listed && o.volume?.started
          ? [{ kind: "run" as const, command: brickOnlineWait(d, listed.path) }]
          : []),
      ],
    });
  if (!o.hook)
    changes.push({
      summary: `write the start hook that mounts the volume ${d.volume} on this node`,
      before: { hook: false },
      after: { hook: d.hookPath },
      steps: [
        { kind: "write", path: d.hookPath, content: d.hook, owner: "root", group: "root", mode: "0755" },
      ],
    });
  if (!view) return [...changes, ...planCreate(d, o, peers)];
  if (!o.volume)
    // A new node is added by the first storage node; a listed one lost its state and rejoins.
    return rejoining && listed ? [...changes, ...planRejoin(d, view.via, listed)] : changes;
  if (
    listed &&
    o.volume.started &&
    o.glusterd.active &&
    !o.bricksOnline.includes(brickStem(d.address, listed.path))
  )
    changes.push({
      summary: `start ${d.node}'s brick process of the volume ${d.volume} (it is not running)`,
      before: { brickOnline: false },
      after: { brickOnline: true },
      steps: [
        { kind: "run", command: `${GLUSTER} volume start ${d.volume} force` },
        { kind: "run", command: brickOnlineWait(d, listed.path) },
      ],
    });
  const stem = listed ? brickStem(d.address, listed.path) : "";
  const pid = o.brickPids?.[stem];
  const first = d.servers[0] as StorageServer;
  const seen = first.name === d.node ? o : peers[first.name];
  if (listed && pid !== undefined && seen?.bricksWithoutPort?.includes(`${d.address}:${listed.path} ${pid}`))
    changes.push({
      summary: `restart ${d.node}'s brick process of the volume ${d.volume} (glusterd lists it without a port: no client reaches it)`,
      before: { brickPort: false },
      after: { brickPort: true },
      steps: [
        {
          kind: "run",
          // This very process (the pid glusterd listed), ended; then glusterd starts a new one.
          command: `${isBrickProcess(pid)} && kill ${pid}
${retry(`! kill -0 ${pid} 2>/dev/null`, 30, `the brick process ${pid} did not end`)}`,
        },
        { kind: "run", command: `${GLUSTER} volume start ${d.volume} force` },
        { kind: "run", command: brickOnlineWait(d, listed.path) },
      ],
    });
  // The self-heal daemons heal by themselves; one that missed a brick's return waits for its next
  // crawl (10 minutes): the index heal is started now instead, by each node whose brick holds
  // entries (its own count: the verify after it sees it fresh, where a sum of its peers' counts, as
  // seen before the heal, would still show theirs).
  const heal = healPending(d, o.volume, o, peers, seen?.bricksWithoutPort);
  if (o.volume.started && listed && heal !== undefined && heal > 0)
    changes.push({
      summary: `heal the ${heal} entr${heal === 1 ? "y" : "ies"} of the volume ${d.volume} that some brick lacks`,
      before: { healPending: heal },
      after: { healPending: 0 },
      steps: [{ kind: "run", command: healWait(d, { brick: `${d.address}:${listed.path}` }) }],
    });
  if (first.name === d.node) changes.push(...planVolume(d, o.volume));
  return changes;
}

/**
 * The entries this node's brick holds for a heal; undefined unless every brick of the volume runs,
 * was counted, and has a port (a brick away holds what the others will give it on its return; one
 * without a port cannot be healed until its process is restarted: planServer). Pure.
 */
export function healPending(
  d: StorageDesired,
  v: ObservedVolume,
  o: StorageObserved,
  peers: Peers<StorageObserved>,
  bricksWithoutPort: string[] | undefined,
): number | undefined {
  if (bricksWithoutPort?.length) return undefined;
  for (const b of v.bricks) {
    const name = d.servers.find((s) => s.address === b.address)?.name;
    const facts = name === d.node ? o : name === undefined ? undefined : peers[name];
    if (facts?.healPending === undefined || !facts.bricksOnline.includes(brickStem(b.address, b.path)))
      return undefined;
  }
  return o.healPending;
}

/** Whether the volume runs, as this node can tell: its own glusterd, or (a client) the storage nodes'. Pure. */
function volumeStarted(d: StorageDesired, o: StorageObserved, peers: Peers<StorageObserved>): boolean {
  if (d.server) return o.volume?.started === true;
  return d.servers.some((s) => peers[s.name]?.volume?.started === true);
}

/** The mount unit, and the mount itself once the volume runs. Pure. */
function planMount(d: StorageDesired, o: StorageObserved, peers: Peers<StorageObserved>): ChangeDraft[] {
  const unit = shellQuote(d.mountUnit);
  const started = volumeStarted(d, o, peers);
  const changes: ChangeDraft[] = [];
  const rewrite = o.unit?.trimEnd() !== d.unit.trimEnd();
  // A client listed after the node that makes the volume in this run waits for it (rolling phase).
  const maker = d.servers[d.servers.length - 1] as StorageServer;
  const madeBefore =
    !d.server &&
    !started &&
    d.order.indexOf(maker.name) < d.order.indexOf(d.node) &&
    peers[maker.name] !== undefined;
  const mountNow = (started || madeBefore) && (rewrite || !o.mounted || o.mountBroken);
  if (rewrite || !o.unitEnabled || mountNow) {
    const steps: Step[] = [];
    if (rewrite)
      steps.push(
        {
          kind: "write",
          path: `/etc/systemd/system/${d.mountUnit}`,
          content: d.unit,
          owner: "root",
          group: "root",
          mode: "0644",
        },
        { kind: "run", command: "systemctl daemon-reload" },
      );
    // A dead mount first: until it goes, even mkdir on its path fails ("Transport endpoint is not connected").
    if (o.mountBroken) steps.push({ kind: "run", command: `umount -l ${d.mountPath}` });
    steps.push({ kind: "run", command: `mkdir -p ${d.mountPath} && systemctl enable -q ${unit}` });
    // mount.glusterfs fails while no brick answers yet (glusterd just started, or the volume is
    // being made by a node before this one in the same run): tried again each second.
    const tries = started ? 60 : 180;
    if (mountNow)
      steps.push({
        kind: "run",
        command: retryEachSecond({
          command: `systemctl ${o.mounted && !o.mountBroken ? "restart" : "start"} ${unit} 2>/dev/null`,
          tries,
          failure: `storage: the volume ${d.volume} could not be mounted at ${d.mountPath} (${tries} s tried)`,
          diagnose: `journalctl -u ${unit} -n 10 --no-pager`,
        }),
      });
    const what = [
      ...(rewrite ? [`${o.unit === undefined ? "write" : "rewrite"} ${d.mountUnit}`] : []),
      ...(o.unitEnabled ? [] : ["enable it"]),
      ...(o.mountBroken ? [`unmount the dead mount at ${d.mountPath}`] : []),
      ...(mountNow
        ? [`mount the volume ${d.volume} at ${d.mountPath}`]
        : [`mount at ${d.mountPath} once the volume ${d.volume} runs`]),
    ];
    changes.push({
      summary: what.join("; "),
      before: {
        unit: o.unit === undefined ? "(missing)" : rewrite ? "(differs)" : "ok",
        enabled: o.unitEnabled,
        mounted: o.mounted,
        broken: o.mountBroken,
      },
      after: { unit: "ok", enabled: true, mounted: mountNow || o.mounted },
      steps,
      ...(mountNow && !started ? { risk: "restart" as const } : {}),
    });
  }
  return changes;
}

export const storage: Reconciler<StorageDesired, StorageObserved> = {
  name: "storage",
  rolling: true,
  after: ["packages", "firewall", "hosts"],
  applies: (_node, m) => m.storage !== undefined,
  desired(node, m) {
    const s = m.storage ?? {};
    const volume = s.volume ?? "shared";
    const replica = s.replica ?? 3;
    const mountPath = s.mountPath ?? "/mnt/shared";
    const mountUnit = mountUnitName(mountPath);
    const options = { ...DEFAULT_VOLUME_OPTIONS, ...(s.options ?? {}) };
    return {
      node: node.name,
      address: node.address,
      volume,
      server: node.roles.includes("storage"),
      brickRoot: s.brickRoot ?? "/data/gluster",
      allowRootFs: s.allowRootFs ?? false,
      servers: m.nodes
        .filter((n) => n.roles.includes("storage"))
        .map((n) => ({ name: n.name, address: n.address, brick: brickPath(n, m) })),
      replica,
      arbiter: s.arbiter ?? replica === 3,
      options: Object.fromEntries(Object.entries(options).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      mountPath,
      mountUnit,
      unit: buildMountUnit(node, m),
      hookPath: `${GLUSTERD}/hooks/1/start/post/S90picotrader-mount-${volume}.sh`,
      hook: buildHook(volume, mountUnit),
      order: m.nodes.map((n) => n.name),
    };
  },
  units: ["glusterd"],
  unitsFor: (d) => [d.mountUnit],
  filesFor: (d) => [`/etc/systemd/system/${d.mountUnit}`, d.hookPath],
  probe: (d) => {
    const unitFile = shellQuote(`/etc/systemd/system/${d.mountUnit}`);
    const mount = `unit_state ${shellQuote(d.mountUnit)}; [ "$unit_enabled" = enabled ] && echo unit-enabled=yes
if awk -v p=${shellQuote(d.mountPath)} '$2 == p && $3 == "fuse.glusterfs" { f = 1 } END { exit !f }' /proc/self/mounts; then
  echo mounted=yes; timeout 5 stat -f ${shellQuote(d.mountPath)} >/dev/null 2>&1 || echo mount-broken=yes
fi
if [ -f ${unitFile} ]; then echo '--- unit'; file_text ${unitFile}; fi`;
    if (!d.server) return `${mount}\ntrue`;
    const me = d.servers.find((s) => s.name === d.node) as StorageServer;
    const vol = `${GLUSTERD}/vols/${d.volume}`;
    const index = `${shellQuote(me.brick)}/.glusterfs/indices/xattrop`;
    // Its index holds entries only while some brick lacks them: then, and only then (a status
    // costs glusterd's CLI, about 60 ms of CPU), whether glusterd gives every brick a port.
    const first = (d.servers[0] as StorageServer).name === d.node;
    return `unit_state glusterd; printf 'glusterd-active=%s\\nglusterd-enabled=%s\\n' "$unit_active" "$unit_enabled"
set --; for f in ${GLUSTERD}/glusterd.info ${GLUSTERD}/peers/*; do [ -f "$f" ] && set -- "$@" "$f"; done
[ -f ${vol}/info ] && for f in ${vol}/info ${vol}/bricks/*; do [ -f "$f" ] && set -- "$@" "$f"; done
[ $# -eq 0 ] || awk -F= -v self=${GLUSTERD}/glusterd.info -v vol=${vol}/ 'FILENAME == self { if ($1 == "UUID") print "uuid=" $2; next }
FILENAME == vol "info" { print "vol", $0; next }
index(FILENAME, vol) == 1 { b = FILENAME; sub(/.*\\//, "", b); if ($1 == "uuid") bu[b] = $2; else if ($1 == "hostname") bh[b] = $2; else if ($1 == "path") bp[b] = $2; next }
$1 == "uuid" { pu[FILENAME] = $2 } $1 == "hostname1" { ph[FILENAME] = $2 }
END { for (f in pu) print "peer", pu[f], ph[f]; for (b in bu) print "brickfile", b, bu[b], bh[b], bp[b] }' "$@"
p=${shellQuote(d.brickRoot)}; [ -d "$p" ] && echo brick-root=yes
while [ ! -e "$p" ]; do p=\${p%/*}; [ -n "$p" ] || p=/; done
df -Pk / "$p" | awk 'NR == 2 { r = $6 } NR == 3 { print "brick-free-kib=" $4; if ($6 == r) print "brick-root-on-rootfs=yes" }'
[ -d ${shellQuote(me.brick)} ] && echo brick-dir=yes
for f in /var/run/gluster/vols/${d.volume}/${d.address}-*.pid; do
  pid=; read pid < "$f" 2>/dev/null && ${isBrickProcess("$pid")} && { f=\${f##*/}; echo "brick-online \${f%.pid}"; echo "brick-pid \${f%.pid} $pid"; }
done
file_read ${d.hookPath} && [ "$file_body" = ${shellQuote(d.hook)} ] && echo hook=yes
if [ -d ${index} ]; then
  n=0; for f in ${index}/*; do case \${f##*/} in xattrop-*|"*") ;; *) n=$((n + 1)) ;; esac; done; echo heal-pending=$n${
    first
      ? `
  [ $n -gt 0 ] && ${GLUSTER} volume status ${d.volume} --xml 2>/dev/null | awk -F'[<>]' '$2 == "node" { h = ""; p = ""; s = ""; t = ""; i = "" } $2 == "hostname" { h = $3 } $2 == "path" { p = $3 } $2 == "status" { s = $3 } $2 == "tcp" { t = $3 } $2 == "pid" { i = $3 } $2 == "/node" && s == 1 && p ~ /^\\// && t !~ /^[0-9]+$/ { print "brick-portless " h ":" p " " i }'`
      : ""
  }
fi
${mount}
true`;
  },
  parse(output) {
    const [head = "", unitText] = output.split(/^--- unit\n/m);
    const lines = head.split("\n");
    const has = (l: string) => lines.includes(l);
    const value = (key: string) => lines.find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1);
    const peers = lines
      .filter((l) => l.startsWith("peer "))
      .map((l) => l.split(" "))
      .filter((f) => f.length >= 3)
      .map((f) => ({ uuid: f[1] as string, address: f[2] as string }))
      .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
    const info: Record<string, string> = {};
    for (const l of lines.filter((x) => x.startsWith("vol "))) {
      const i = l.indexOf("=");
      if (i > 4) info[l.slice(4, i)] = l.slice(i + 1);
    }
    const files = new Map(
      lines
        .filter((l) => l.startsWith("brickfile "))
        .map((l) => l.split(" "))
        .map((f) => [f[1] as string, { uuid: f[2] ?? "", address: f[3] ?? "", path: f[4] ?? "" }] as const),
    );
    const bricks: ObservedBrick[] = [];
    for (let i = 0; info[`brick-${i}`] !== undefined; i++) {
      const b = files.get(info[`brick-${i}`] as string);
      if (b) bricks.push(b);
    }
    const settings = new Set([
      "type",
      "count",
      "status",
      "sub_count",
      "replica_count",
      "arbiter_count",
      "disperse_count",
      "redundancy_count",
      "version",
      "transport-type",
      "volume-id",
      "username",
      "password",
      "op-version",
      "client-op-version",
      "quota-version",
      "tier-enabled",
      "parent_volname",
      "restored_from_snap",
      "snap-max-hard-limit",
    ]);
    const volume: ObservedVolume | undefined =
      info["volume-id"] === undefined
        ? undefined
        : {
            id: info["volume-id"],
            started: info.status === "1",
            replica: Number(info.replica_count ?? "1"),
            arbiter: Number(info.arbiter_count ?? "0"),
            options: Object.fromEntries(
              Object.entries(info)
                .filter(([k]) => !settings.has(k) && !/^brick-\d+$/.test(k))
                .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
            ),
            bricks,
          };
    const free = value("brick-free-kib");
    const heal = value("heal-pending");
    const portless = lines.filter((l) => l.startsWith("brick-portless ")).map((l) => l.slice(15));
    const pids = lines
      .filter((l) => l.startsWith("brick-pid "))
      .map((l) => l.split(" "))
      .filter((f) => f.length === 3 && /^\d+$/.test(f[2] as string));
    return {
      glusterd: { active: has("glusterd-active=active"), enabled: has("glusterd-enabled=enabled") },
      ...(value("uuid") ? { uuid: value("uuid") } : {}),
      peers,
      ...(volume ? { volume } : {}),
      brickRoot: has("brick-root=yes"),
      brickRootOnRootFs: has("brick-root-on-rootfs=yes"),
      ...(free !== undefined ? { brickFreeKiB: Number(free) } : {}),
      brickDir: has("brick-dir=yes"),
      bricksOnline: lines.filter((l) => l.startsWith("brick-online ")).map((l) => l.slice(13)),
      hook: has("hook=yes"),
      ...(unitText === undefined ? {} : { unit: unitText }),
      unitEnabled: has("unit-enabled=yes"),
      mounted: has("mounted=yes"),
      mountBroken: has("mount-broken=yes"),
      ...(heal !== undefined ? { healPending: Number(heal) } : {}),
      ...(portless.length > 0 ? { bricksWithoutPort: portless } : {}),
      ...(pids.length > 0
        ? { brickPids: Object.fromEntries(pids.map((f) => [f[1] as string, f[2] as string])) }
        : {}),
    };
  },
  plan(d, o, peers) {
    const server = d.server ? planServer(d, o, peers) : [];
    // The unit before the volume's changes: the maker's start hook and its own mount use it.
    return [...planMount(d, o, peers), ...server];
  },
  // Free space and heal counts move by themselves.
  stableFacts: (o) => ({ ...o, brickFreeKiB: undefined, healPending: undefined }),
};
