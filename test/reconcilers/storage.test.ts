// The storage concern's decisions beyond its fixture table: what it refuses to plan (a brick on the
// root filesystem, a volume made without seeing every storage node, a replica set cut in half, a
// lost brick at the same path), the mount unit's name as systemd escapes it, and the heal's wait.
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t, { type Test } from "tap";
import { healWait, mountUnitName, storage, type StorageObserved } from "../../reconcilers/storage.js";
import type { Manifest } from "../../src/manifest/types.generated.js";
import { shellQuote } from "../../src/transport/quote.js";
import { run } from "../../src/util/run.js";
import { tempDir } from "../helpers/temp.js";

const manifest = (storageNodes: number, extra: object = {}) =>
  ({
    cluster: { name: "c", subnet: "10.1.0.0/24" },
    storage: extra,
    nodes: Array.from({ length: storageNodes }, (_, i) => ({
      name: `n${i + 1}`,
      address: `10.1.0.1${i + 1}`,
      roles: ["storage"],
    })),
  }) as unknown as Manifest;
const inputs = { secrets: {}, files: {}, imageParts: [], partSize: 0 };
const m = manifest(3);
const desired = (i: number, mm = m) => storage.desired(mm.nodes[i] as Manifest["nodes"][number], mm, inputs);
const fresh: StorageObserved = {
  glusterd: { active: false, enabled: false },
  peers: [],
  brickRoot: false,
  brickRootOnRootFs: false,
  brickDir: false,
  bricksOnline: [],
  hook: false,
  unitEnabled: false,
  mounted: false,
  mountBroken: false,
};

t.test("the mount unit's name is systemd's escape of the path", async (t) => {
  t.equal(mountUnitName("/mnt/shared"), "mnt-shared.mount");
  t.equal(mountUnitName("/srv/my-share/v1.2"), "srv-my\\x2dshare-v1.2.mount");
  t.equal(mountUnitName("/mnt/a+b"), "mnt-a\\x2bb.mount");
});

t.test("a brick root that would be on the root filesystem is refused unless allowed", async (t) => {
  t.throws(
    () => storage.plan(desired(0), { ...fresh, brickRootOnRootFs: true }, {}),
    /root filesystem.*allowRootFs/,
  );
  const allowed = manifest(3, { allowRootFs: true });
  const changes = storage.plan(
    desired(0, allowed),
    { ...fresh, brickRootOnRootFs: true },
    { n2: fresh, n3: fresh },
  );
  t.ok(changes.some((c) => c.steps.some((s) => s.kind === "run" && s.command === "mkdir -p /data/gluster")));
  const maker = storage.plan(
    desired(2, allowed),
    { ...fresh, brickRootOnRootFs: true },
    { n1: fresh, n2: fresh },
  );
  t.ok(
    maker.some((c) =>
      c.steps.some((s) => s.kind === "run" && / volume create [^\n]*\bforce\b/.test(s.command)),
    ),
    "GlusterFS's own check is overridden only then",
  );
});

t.test("no volume is made unless every storage node was observed", async (t) => {
  t.throws(() => storage.plan(desired(2), fresh, { n1: fresh, n2: undefined }), /n2 could not be observed/);
  t.same(
    storage
      .plan(desired(0), fresh, { n2: fresh, n3: fresh })
      .filter((c) => /make the GlusterFS volume/.test(c.summary)),
    [],
    "only the last storage node makes it",
  );
});

const volume = (addresses: string[]) => ({
  id: "v",
  started: true,
  replica: 3,
  arbiter: 1,
  options: { "cluster.quorum-type": "auto", "cluster.server-quorum-type": "server" },
  bricks: addresses.map((address, i) => ({ uuid: `u${i}`, address, path: "/data/gluster/shared-g1" })),
});
const member = (addresses: string[]): StorageObserved => ({
  ...fresh,
  glusterd: { active: true, enabled: true },
  volume: volume(addresses),
  brickRoot: true,
  brickDir: true,
  bricksOnline: ["10.1.0.11-data-gluster-shared-g1"],
  hook: true,
  unit: desired(0).unit,
  unitEnabled: true,
  mounted: true,
});

t.test("a replica set is removed whole, never half", async (t) => {
  const six = ["10.1.0.11", "10.1.0.12", "10.1.0.13", "10.1.0.14", "10.1.0.15", "10.1.0.16"];
  const five = manifest(5, { replica: 2 });
  t.throws(
    () => storage.plan(desired(0, five), { ...member(six), volume: { ...volume(six), replica: 2 } }, {}),
    /drops 10\.1\.0\.16 but not the rest of its replica set/,
  );
});

t.test("a node that lost its brick at the same path is told to raise its generation", async (t) => {
  const listed = ["10.1.0.11", "10.1.0.12", "10.1.0.13"];
  t.throws(
    () =>
      storage.plan(
        desired(2),
        { ...fresh, glusterd: { active: true, enabled: true }, brickRoot: true },
        { n1: member(listed) },
      ),
    /n3 lost its brick \/data\/gluster\/shared-g1.*raise its generation/,
  );
});

t.test("a brick that glusterd lists without a port is restarted, that very process only", async (t) => {
  const listed = ["10.1.0.11", "10.1.0.12", "10.1.0.13"];
  const on = (i: number, pid: string, extra: Partial<StorageObserved> = {}): StorageObserved => ({
    ...member(listed),
    bricksOnline: [`10.1.0.1${i}-data-gluster-shared-g1`],
    brickPids: { [`10.1.0.1${i}-data-gluster-shared-g1`]: pid },
    unit: desired(i - 1).unit,
    healPending: 0,
    ...extra,
  });
  // The first storage node's index holds 2 entries, and glusterd lists n2's brick (pid 121) without a port.
  const first = on(1, "3366", {
    healPending: 2,
    bricksWithoutPort: ["10.1.0.12:/data/gluster/shared-g1 121"],
  });
  const summaries = (i: number, o: StorageObserved) =>
    storage.plan(desired(i - 1), o, { n1: first, n2: on(2, "121"), n3: on(3, "122") }).map((c) => c.summary);
  t.strictSame(summaries(2, on(2, "121")), [
    "restart n2's brick process of the volume shared (glusterd lists it without a port: no client reaches it)",
  ]);
  const restart = storage.plan(desired(1), on(2, "121"), { n1: first, n3: on(3, "122") })[0];
  t.match(
    restart?.steps.map((s) => (s.kind === "run" ? s.command : "")),
    [
      /kill 121\n/,
      /volume start shared force$/,
      /volume status shared 10\.1\.0\.12:\/data\/gluster\/shared-g1 --xml/,
    ],
  );
  t.strictSame(summaries(2, on(2, "250")), [], "another process (a restart since) is left alone");
  t.strictSame(summaries(3, on(3, "122")), [], "the other bricks are left alone");
  t.strictSame(summaries(1, first), [], "no heal is planned while a brick cannot be reached");
  t.match(
    summaries(1, { ...first, bricksWithoutPort: undefined }),
    [/^heal the 2 entries/],
    "once every brick has its port, the heal",
  );
  const parsed = storage.parse(
    "glusterd-active=active\nbrick-online 10.1.0.12-data-gluster-shared-g1\nbrick-pid 10.1.0.12-data-gluster-shared-g1 121\nbrick-pid x $(reboot)\nbrick-portless 10.1.0.12:/data/gluster/shared-g1 121\n",
  );
  t.strictSame(parsed.brickPids, { "10.1.0.12-data-gluster-shared-g1": "121" }, "a pid is digits only");
  t.strictSame(parsed.bricksWithoutPort, ["10.1.0.12:/data/gluster/shared-g1 121"]);
});

/**
 * Runs a heal wait against a stand-in gluster whose heal count prints brick a:/b with no entries,
 * then brick c:/b as `cBefore` prints it for the first two counts and with no entries after: how
 * many counts the wait asked for.
 */
async function healCounts(t: Test, cBefore: string, own?: string): Promise<number> {
  const until = own === undefined ? { bricks: 2 } : { brick: own };
  const bin = tempDir(t, "gluster");
  const calls = join(bin, "counts");
  writeFileSync(calls, "0");
  writeFileSync(
    join(bin, "gluster"),
    `#!/bin/sh
case "$*" in *heal-count*) ;; *) exit 0 ;; esac
n=$(($(cat ${shellQuote(calls)}) + 1)); echo $n > ${shellQuote(calls)}
printf 'Brick a:/b\nNumber of entries: 0\n\n'
if [ $n -le 2 ]; then printf 'Brick c:/b\n%s\n' ${shellQuote(cBefore)}; else printf 'Brick c:/b\nNumber of entries: 0\n'; fi
`,
  );
  chmodSync(join(bin, "gluster"), 0o755);
  const r = await run("sh", ["-c", healWait({ volume: "shared" }, until)], {
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}` },
  });
  t.equal(r.exitCode, 0, r.stderr);
  return Number(readFileSync(calls, "utf8"));
}

t.test(
  "the heal's wait goes on while a brick cannot be reached: its '-' entries are not nothing",
  async (t) => {
    // glusterd's CLI as a brick just back shows it: unreachable twice, then every brick at 0.
    const unreachable = "Status: Transport endpoint is not connected\nNumber of entries: -";
    t.equal(await healCounts(t, unreachable), 3, "asked until every brick answered 0");
  },
);

t.test("a node's heal waits for its own brick's entries only", async (t) => {
  // Brick a holds nothing; brick c holds 3 entries for two counts, then none.
  const three = "Number of entries: 3";
  t.equal(await healCounts(t, three, "a:/b"), 1, "a: its own brick holds nothing, one count");
  t.equal(await healCounts(t, three, "c:/b"), 3, "c: asked until its own brick answered 0");
  t.equal(await healCounts(t, three), 3, "the whole volume: asked until every brick answered 0");
});

t.test("each storage node heals what its own brick holds, so its verify reads a fresh count", async (t) => {
  const listed = ["10.1.0.11", "10.1.0.12", "10.1.0.13"];
  const on = (i: number, healPending: number): StorageObserved => ({
    ...member(listed),
    bricksOnline: [`10.1.0.1${i}-data-gluster-shared-g1`],
    unit: desired(i - 1).unit,
    healPending,
  });
  const summaries = (i: number, own: number, others: Record<string, number>) =>
    storage
      .plan(
        desired(i - 1),
        on(i, own),
        Object.fromEntries(Object.entries(others).map(([n, c]) => [n, on(Number(n.slice(1)), c)])),
      )
      .map((c) => c.summary);
  t.match(
    summaries(2, 3, { n1: 0, n3: 0 }),
    [/^heal the 3 entries/],
    "a node that is not the first heals its own",
  );
  t.match(summaries(1, 2, { n2: 5, n3: 0 }), [/^heal the 2 entries/], "its own count, not the volume's");
  // node1's verify after its heal: its own index is empty; n2's facts are those seen before the heal.
  t.strictSame(summaries(1, 0, { n2: 5, n3: 0 }), [], "nothing for the entries a peer held before");
  t.strictSame(summaries(3, 4, { n1: 0, n2: 0 }).length, 1);
  const away = storage.plan(desired(0), on(1, 2), { n2: on(2, 0) });
  t.strictSame(
    away.map((c) => c.summary),
    [],
    "no heal while a brick's node was not observed",
  );
});
