// The one decision of what a run may apply, as a table of cases.
import t from "tap";
import { decideDisposition, describeDisposition } from "../../src/engine/dispositions.js";
import type { Change, Manifest, NodeSpec } from "../../src/engine/types.js";

const cp: NodeSpec = { name: "a", address: "10.0.0.1", roles: ["control-plane"] };
const worker: NodeSpec = { name: "c", address: "10.0.0.3", roles: ["worker"] };
const m = (extra: Partial<Manifest> = {}) =>
  ({
    cluster: { name: "x", subnet: "10.0.0.0/24" },
    keepalived: {},
    nodes: [cp, worker],
    ...extra,
  }) as Manifest;
const change = (risk?: Change["risk"]): Change => ({
  concern: "x",
  node: "a",
  summary: "s",
  before: 0,
  after: 1,
  diff: [],
  steps: [],
  disposition: { kind: "apply" },
  ...(risk ? { risk } : {}),
});
const watch = { withhold: { reboot: "no reboots here", destroy: "no rebuilds here" } };

t.test("each case decides one disposition", async (t) => {
  const cases: [string, ReturnType<typeof decideDisposition>, ReturnType<typeof decideDisposition>][] = [
    ["a plain change applies", decideDisposition(change(), cp, m(), { withhold: {} }, []), { kind: "apply" }],
    [
      "a suspended cluster suspends every change, withheld or not",
      decideDisposition(change("reboot"), cp, m({ suspend: true }), watch, []),
      { kind: "suspended" },
    ],
    [
      "a suspended node",
      decideDisposition(change(), { ...worker, suspend: true }, m(), { withhold: {} }, []),
      { kind: "suspended" },
    ],
    [
      "a withheld risk, with its reason",
      decideDisposition(change("reboot"), cp, m(), watch, []),
      { kind: "withheld", reason: "no reboots here" },
    ],
    [
      "a control-plane rebuild while another control-plane node is down is refused",
      decideDisposition(change("destroy"), cp, m(), { withhold: {} }, ["b"]),
      {
        kind: "refused",
        reason:
          "rebuild refused: b (control-plane) is down, and a could be the last holder of the virtual IP",
      },
    ],
    [
      "the node itself being down does not count",
      decideDisposition(change("destroy"), cp, m(), { withhold: {} }, ["a"]),
      { kind: "apply" },
    ],
    [
      "a worker's rebuild is never refused for that",
      decideDisposition(change("destroy"), worker, m(), { withhold: {} }, ["b"]),
      { kind: "apply" },
    ],
    [
      "without keepalived there is no virtual IP to lose",
      decideDisposition(change("destroy"), cp, m({ keepalived: undefined }), { withhold: {} }, ["b"]),
      { kind: "apply" },
    ],
  ];
  for (const [name, got, want] of cases) t.strictSame(got, want, name);
});

t.test("reports tag what is not applied", async (t) => {
  t.equal(describeDisposition({ kind: "apply" }), "");
  t.equal(describeDisposition({ kind: "suspended" }), " [suspended]");
  t.equal(describeDisposition({ kind: "withheld", reason: "why" }), " [withheld: why]");
  t.equal(describeDisposition({ kind: "refused", reason: "no" }), " [refused: no]");
});
