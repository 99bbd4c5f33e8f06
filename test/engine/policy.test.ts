// What the engine applies is decided by policy, not by plugins: suspend and withheld risks.
import t from "tap";
import { describeDiagnostic } from "../../src/engine/diagnostics.js";
import { WITHHELD_IN_WATCH } from "../../src/controller/watch.js";
import { reconcile } from "../../src/engine/reconcile.js";
import type { Reconciler } from "../../src/engine/types.js";
import { parseManifestSource } from "../../src/manifest/load.js";
import type { Manifest } from "../../src/manifest/types.generated.js";
import { FakeTransport } from "../../src/transport/fake.js";

/** A concern that always wants one plain change and one reboot. */
const demo: Reconciler<null, string> = {
  name: "demo",
  applies: () => true,
  desired: () => null,
  probe: () => "echo state",
  parse: (o) => o.trim(),
  plan: (_d, o) => {
    const plain = {
      summary: "plain",
      before: o,
      after: "done",
      steps: [{ kind: "run" as const, command: "plain-step" }],
    };
    const reboot = {
      summary: "reboot",
      before: o,
      after: "done",
      steps: [{ kind: "run" as const, command: "reboot-step" }],
      risk: "reboot" as const,
    };
    // "half": the plain change was applied, the reboot was not.
    return o === "done" ? [] : o === "half" ? [reboot] : [plain, reboot];
  },
};

const manifest = (extra: string) =>
  parseManifestSource(
    `apiVersion: picotrader/v1
${extra}cluster: { name: t, subnet: 10.9.0.0/24 }
admin: { user: sysman, sshKeys: ["ssh-ed25519 AAAAkey op@ws"] }
nodes:
  - { name: a, address: 10.9.0.11, roles: [worker] }
  - { name: b, address: 10.9.0.12, roles: [worker], suspend: true }
`,
    "t.yaml",
  ).data as Manifest;

const commands = [
  { match: /^mkdir -p \/run\/picotrader/ },
  { match: /^rm -rf \/run\/picotrader\/lock$/ },
  { match: /^plain-step$/ },
  { match: /^reboot-step$/ },
  { match: /^set -e\np=\/var\/lib\/picotrader\/state\.json/ },
];

t.test("a suspended node is observed and reported, never written to", async (t) => {
  const transport = new FakeTransport({
    a: { probeRounds: [{ demo: { stdout: "old" } }, { demo: { stdout: "done" } }], commands },
    b: { probeRounds: [{ demo: { stdout: "old" } }], commands },
  });
  const { plan, results } = await reconcile({
    transport,
    manifest: manifest(""),
    reconcilers: [demo],
    concurrency: 2,
  });
  t.strictSame(
    plan.nodes.map((n) => n.changes.length),
    [2, 2],
    "both nodes are planned",
  );
  t.strictSame(
    results.map((r) => [r.node, r.outcome, r.applied, r.suspended ?? false]),
    [
      ["a", "converged", 2, false],
      ["b", "pending", 0, true],
    ],
  );
  t.strictSame(
    transport.log.filter((l) => l.node === "b").map((l) => l.command),
    ["sh -s"],
    "b only answered the probe",
  );
});

t.test("the whole cluster suspended: nothing is applied anywhere", async (t) => {
  const transport = new FakeTransport({
    a: { probeRounds: [{ demo: { stdout: "old" } }], commands },
    b: { probeRounds: [{ demo: { stdout: "old" } }], commands },
  });
  const { results } = await reconcile({
    transport,
    manifest: manifest("suspend: true\n"),
    reconcilers: [demo],
    concurrency: 2,
  });
  t.strictSame(
    results.map((r) => r.outcome),
    ["pending", "pending"],
  );
  t.strictSame(
    transport.log.map((l) => l.command),
    ["sh -s", "sh -s"],
  );
});

t.test("withheld risks stay pending and visible; the rest is applied", async (t) => {
  const transport = new FakeTransport({
    a: { probeRounds: [{ demo: { stdout: "old" } }, { demo: { stdout: "half" } }], commands },
  });
  const { results } = await reconcile({
    transport,
    manifest: manifest(""),
    reconcilers: [demo],
    concurrency: 1,
    only: ["a"],
    policy: { withhold: WITHHELD_IN_WATCH },
  });
  t.strictSame(
    transport.log.filter((l) => /-step$/.test(l.command)).map((l) => l.command),
    ["plain-step"],
    "the reboot was not run",
  );
  t.equal(results[0]?.outcome, "pending");
  t.strictSame(
    results[0]?.remaining.map((c) => c.summary),
    ["reboot"],
    "the reboot is still pending after verify",
  );
  t.strictSame(results[0]?.diagnostics, [], "a withheld change is not an error");
});

t.test("where reboots are withheld, a conditional reboot step (after upgrades) is skipped", async (t) => {
  const upgrade: Reconciler<null, string> = {
    name: "demo",
    applies: () => true,
    desired: () => null,
    probe: () => "echo state",
    parse: (o) => o.trim(),
    plan: (_d, o) =>
      o === "done"
        ? []
        : [
            {
              summary: "upgrade, reboot if required",
              before: o,
              after: "done",
              steps: [
                { kind: "run", command: "plain-step" },
                { kind: "reboot", onlyIf: "reboot-needed-check" },
              ],
              risk: "restart",
            },
          ],
  };
  const transport = new FakeTransport({
    a: { probeRounds: [{ demo: { stdout: "old" } }, { demo: { stdout: "done" } }], commands },
  });
  const { results } = await reconcile({
    transport,
    manifest: manifest(""),
    reconcilers: [upgrade],
    concurrency: 1,
    only: ["a"],
    policy: { withhold: WITHHELD_IN_WATCH },
  });
  t.equal(results[0]?.outcome, "converged", results[0]?.diagnostics.map(describeDiagnostic).join("\n") ?? "");
  t.ok(
    transport.log.some((e) => e.command === "plain-step"),
    "the upgrade ran",
  );
  t.notOk(
    transport.log.some((e) => e.command === "reboot-needed-check"),
    "the reboot was not even considered",
  );
});
