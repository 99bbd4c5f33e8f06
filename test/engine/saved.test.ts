// Saved plans: what makes one stale, and digests that neither move by themselves nor reveal secrets.
import t from "tap";
import { updates } from "../../reconcilers/updates.js";
import { factsDigest, findStaleness } from "../../src/engine/saved.js";
import type { Change, Plan } from "../../src/engine/types.js";

const change: Change = {
  concern: "hostname",
  node: "n1",
  summary: "hostname a -> n1",
  before: {},
  after: {},
  diff: [],
  steps: [{ kind: "run", command: "hostname n1" }],
  disposition: { kind: "apply" },
};
const plan = (over: Partial<Plan["nodes"][number]> = {}, digest = "m1"): Plan => ({
  cluster: "c",
  createdAt: "now",
  manifestDigest: digest,
  nodes: [
    {
      node: "n1",
      address: "10.0.0.1",
      status: "planned",
      state: "pending",
      diagnostics: [],
      changes: [change],
      facts: { hostname: "f1", hosts: "f2" },
      ...over,
    },
  ],
});

t.test("the same manifest, facts and changes: not stale", async (t) => {
  t.strictSame(findStaleness(plan(), plan()), []);
});

t.test("each way a saved plan goes stale is named", async (t) => {
  t.strictSame(findStaleness(plan(), plan({}, "m2")), [
    { message: "the manifest changed since the plan was made" },
  ]);
  t.strictSame(findStaleness(plan(), plan({ facts: { hostname: "f9", hosts: "f2" } })), [
    { node: "n1", concern: "hostname", message: "n1: the facts of hostname changed since the plan was made" },
  ]);
  t.strictSame(findStaleness(plan(), plan({ status: "unreachable", state: "unknown" })), [
    { node: "n1", message: "n1 could not be observed again" },
  ]);
  t.strictSame(
    findStaleness(plan(), plan({ changes: [{ ...change, disposition: { kind: "withheld", reason: "x" } }] })),
    [{ node: "n1", message: "n1: the plan made now differs from the saved one" }],
  );
});

t.test("digests: a keyed secret stand-in and a moving age do not change them", async (t) => {
  const a = factsDigest({ ok: true, value: { config: ["auth_pass (secret 1a2b3c4d)"] } });
  const b = factsDigest({ ok: true, value: { config: ["auth_pass (secret 99999999)"] } });
  t.equal(a, b, "the per-process stand-in is folded");
  t.notOk(a.includes("1a2b3c4d"));
  const fresh = (age: number) =>
    factsDigest({ ok: true, value: { indexAgeS: age, upgradable: [], rebootRequired: false } }, updates);
  t.equal(fresh(100), fresh(200), "an index 100 s or 200 s old is fresh either way");
  t.not(fresh(100), fresh(200_000), "a stale index is another fact");
  t.not(factsDigest({ ok: false, error: "x" }), factsDigest({ ok: true, value: {} }));
});
