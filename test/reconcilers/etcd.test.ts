// The etcd concern's decisions that span nodes, beyond its fixture table: a node that is not a
// member yet bootstraps only when every peer was observed and none holds a cluster's data.
import t from "tap";
import { etcd, type EtcdObserved } from "../../reconcilers/etcd.js";
import type { Manifest } from "../../src/manifest/types.generated.js";

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
