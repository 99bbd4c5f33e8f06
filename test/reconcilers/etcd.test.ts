// The etcd concern's decisions that span nodes, beyond its fixture table: a node that is not a
// member yet bootstraps only when every peer was observed and none holds a cluster's data; a
// member's removal waits out etcd's quorum check.
import { chmodSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { etcd, memberProbe, memberRemove, type EtcdObserved } from "../../reconcilers/etcd.js";
import type { Manifest } from "../../src/manifest/types.generated.js";
import { run } from "../../src/util/run.js";
import { tempDir } from "../helpers/temp.js";

const m = {
  cluster: { name: "c", subnet: "10.1.0.0/24" },
  etcd: {},
  nodes: ["n1", "n2", "n3"].map((name, i) => ({ name, address: `10.1.0.1${i + 1}`, roles: ["etcd"] })),
} as unknown as Manifest;
const inputs = {
  secrets: {},
  files: {},
  imageParts: [],
  partSize: 0,
  etcdPki: { ca: "CA", nodes: Object.fromEntries(["n1", "n2", "n3"].map((n) => [n, { cert: n, key: n }])) },
};
const d = etcd.desired(m.nodes[0], m, inputs);
const fresh: EtcdObserved = {
  dropIn: false,
  digests: {},
  dataDir: false,
  packageData: false,
  active: false,
  enabled: false,
  healthy: false,
};

t.test("a peer not observed: bootstrap or join is unknown, and nothing is planned", async (t) => {
  t.throws(() => etcd.plan(d, fresh, { n2: fresh, n3: undefined }), /n3 could not be observed/);
});

t.test("peers hold a cluster's data but none answers: never bootstrapped again", async (t) => {
  t.throws(
    () => etcd.plan(d, fresh, { n2: { ...fresh, dataDir: true }, n3: fresh }),
    /n2 hold a cluster's data but none answers/,
  );
});

t.test(
  "every peer observed and fresh: bootstrap alone, in the rolling phase: the others join it one at a time",
  async (t) => {
    const [change] = etcd.plan(d, fresh, { n2: fresh, n3: fresh });
    t.match(change?.summary, /^bootstrap the etcd cluster with member n1, which n2, n3 then join/);
    t.equal(change?.risk, "restart", "in the rolling phase, before the others join");
    t.match(JSON.stringify(change?.steps), /ETCD_INITIAL_CLUSTER_STATE=new/);
  },
);

t.test("no cluster yet, and this node is not the first member: it joins the first one's", async (t) => {
  const d2 = etcd.desired(m.nodes[1] as Manifest["nodes"][number], m, inputs);
  const [change] = etcd.plan(d2, fresh, { n1: fresh, n3: fresh });
  t.match(change?.summary, /^join etcd member n2 to the cluster that n1 bootstraps in this run/);
  t.match(JSON.stringify(change?.steps), /--endpoints=https:\/\/10\.1\.0\.11:2379 member add n2 --learner/);
});

t.test(
  "a member remove waits while etcd protects its quorum, and fails at once on any other error",
  async (t) => {
    // A stand-in etcdctl: refuses with the answer in $ANSWER until $COUNT calls were made.
    const bin = tempDir(t, "etcdctl");
    writeFileSync(
      join(bin, "etcdctl"),
      `#!/bin/sh\nn=$(cat "$0.calls" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$0.calls"\n[ $n -gt "$COUNT" ] && { echo "Member $5 removed"; exit 0; }\necho "Error: $ANSWER" >&2; exit 1\n`,
    );
    chmodSync(join(bin, "etcdctl"), 0o755);
    const removal = async (answer: string, count: number) => {
      rmSync(join(bin, "etcdctl.calls"), { force: true });
      const r = await run("sh", ["-c", memberRemove("https://127.0.0.1:2379", "aaaa")], {
        env: {
          ...process.env,
          PATH: `${bin}:${process.env.PATH ?? ""}`,
          ANSWER: answer,
          COUNT: String(count),
        },
      });
      return { ...r, calls: Number(readFileSync(join(bin, "etcdctl.calls"), "utf8")) };
    };
    const waited = await removal("etcdserver: unhealthy cluster", 2);
    t.equal(waited.exitCode, 0, waited.stderr);
    t.equal(waited.calls, 3, "refused twice while a member had just started, then removed");
    const starting = await removal(
      "etcdserver: re-configuration failed due to not enough started members",
      1,
    );
    t.equal(starting.exitCode, 0, starting.stderr);
    t.equal(starting.calls, 2);
    const other = await removal("etcdserver: member not found", 5);
    t.equal(other.exitCode, 1);
    t.equal(other.calls, 1, "another error is not tried again");
    t.match(other.stderr, /member not found/, "etcdctl's own error is shown");
  },
);

t.test(
  "the first member asks every member's status only when the cluster lists one the manifest does not",
  async (t) => {
    // A stand-in etcdctl: `member list` prints $LIST, `endpoint status` prints $STATUS and is counted.
    const bin = tempDir(t, "etcdctl");
    writeFileSync(
      join(bin, "etcdctl"),
      `#!/bin/sh\ncase "$*" in\n*"member list"*) printf '%s\\n' "$LIST" ;;\n*"endpoint status"*) echo called >> "$0.status"; printf '%s\\n' "$STATUS" ;;\nesac\n`,
    );
    chmodSync(join(bin, "etcdctl"), 0o755);
    const status = (id: string, address: string) =>
      `https://${address}:2379, ${id}, 3.4.23, 20 kB, false, false, 2, 9, 9, `;
    const probe = async (list: string[], answers: string[] = [], member = d) => {
      rmSync(join(bin, "etcdctl.status"), { force: true });
      const r = await run("sh", ["-c", memberProbe(member)], {
        env: {
          ...process.env,
          PATH: `${bin}:${process.env.PATH ?? ""}`,
          LIST: list.join("\n"),
          STATUS: answers.join("\n"),
        },
      });
      t.equal(r.exitCode, 0, r.stderr);
      const asked = readFileSync(join(bin, "etcdctl.status"), { encoding: "utf8", flag: "a+" }) !== "";
      const observed = etcd.parse(`peer-url=${member.member.peerUrl}\n${r.stdout}`);
      const removals = etcd
        .plan(member, { ...observed, dataDir: true, active: true, enabled: true }, {})
        .filter((c) => /^remove etcd member/.test(c.summary));
      return { asked, observed, removals };
    };
    const own = [
      "aa, started, n1, https://10.1.0.11:2380, https://10.1.0.11:2379, false",
      "bb, started, n2, https://10.1.0.12:2380, https://10.1.0.12:2379, false",
      // Not started yet: no name, known by its peer URL.
      "cc, unstarted, , https://10.1.0.13:2380, , true",
    ];
    const converged = await probe(own);
    t.equal(converged.asked, false, "a converged cluster is not asked for every member's status");
    t.equal(converged.observed.members?.length, 3);
    t.same(converged.observed.status, { id: "aa", learner: false }, "its own id from the member list");
    t.equal(converged.observed.healthy, undefined);
    t.same(converged.removals, []);

    // A member of a manifest's name, at another address, is the manifest's (as plan decides).
    const renamed = await probe([
      ...own,
      "dd, started, n2, https://10.1.0.97:2380, https://10.1.0.97:2379, false",
    ]);
    t.equal(renamed.asked, false);

    for (const extra of [
      "dd, started, old, https://10.1.0.99:2380, https://10.1.0.99:2379, false",
      "dd, unstarted, , https://10.1.0.99:2380, , true",
      // A peer URL field of two URLs is not split: asked, and plan decides.
      "dd, started, n9, https://10.1.0.98:2380,https://10.1.0.11:2380, https://10.1.0.98:2379, false",
    ]) {
      const started = extra.includes(", started,");
      const address = started ? (/https:\/\/([0-9.]+):2379/.exec(extra)?.[1] ?? "") : "";
      const answered = await probe(
        [...own, extra],
        [status("aa", "10.1.0.11"), status("bb", "10.1.0.12"), ...(started ? [status("dd", address)] : [])],
      );
      t.equal(answered.asked, true, `asked when listed: ${extra}`);
      t.equal(answered.observed.healthy, true, "every started member answered");
      t.equal(answered.removals.length, 1, "the member the manifest does not have is removed");
      const silent = await probe([...own, extra], [status("aa", "10.1.0.11")]);
      t.equal(silent.observed.healthy, false, "a started member did not answer its status");
      t.same(silent.removals, [], "no removal while the cluster is not healthy");
    }

    // Another member lists the members the same way, and never asks for their status.
    const extra = "dd, started, old, https://10.1.0.99:2380, https://10.1.0.99:2379, false";
    const second = await probe(
      [...own, extra],
      [status("aa", "10.1.0.11")],
      etcd.desired(m.nodes[1] as (typeof m.nodes)[0], m, inputs),
    );
    t.equal(second.asked, false, "not asked on a member that is not the first");
    t.equal(second.observed.members?.length, 4, "every member listed");
    t.same(second.observed.status, { id: "bb", learner: false }, "its own id from the member list");
    t.equal(second.observed.healthy, undefined);
  },
);
