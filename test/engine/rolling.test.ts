// The rolling rule: restarts that may move the virtual IP go one node at a time, and the next node
// starts only when exactly one node holds the virtual IP again.
import t from "tap";
import { describeDiagnostic } from "../../src/engine/diagnostics.js";
import { reconcile } from "../../src/engine/reconcile.js";
import type { Reconciler } from "../../src/engine/types.js";
import { parseManifestSource } from "../../src/manifest/load.js";
import type { Manifest } from "../../src/manifest/types.generated.js";
import { FakeTransport, type FakeNode } from "../../src/transport/fake.js";

/** A rolling concern that restarts a service once; and a plain one that changes a file. */
const ha: Reconciler<null, string> = {
  name: "ha",
  rolling: true,
  applies: () => true,
  desired: () => null,
  probe: () => "echo state",
  parse: (o) => o.trim(),
  plan: (_d, o) =>
    o === "done"
      ? []
      : [
          {
            summary: "restart",
            before: o,
            after: "done",
            steps: [{ kind: "run", command: "restart-step" }],
            risk: "restart",
          },
        ],
};
const plain: Reconciler<null, string> = { ...ha, name: "plain", rolling: false };

const manifest = parseManifestSource(
  `apiVersion: picotrader/v1
cluster: { name: t, subnet: 10.9.0.0/24, virtualIp: 10.9.0.200 }
admin: { user: sysman, sshKeys: ["ssh-ed25519 AAAAkey op@ws"] }
keepalived: {}
nodes:
  - { name: a, address: 10.9.0.11, roles: [control-plane] }
  - { name: b, address: 10.9.0.12, roles: [control-plane] }
  - { name: c, address: 10.9.0.13, roles: [worker] }
`,
  "t.yaml",
).data as Manifest;

/** Fake nodes; `holder()` says which node carries the virtual IP at each moment. */
function fakeNodes(concern: string, holder: () => string | undefined, onRestart: (node: string) => void) {
  const node = (name: string): FakeNode => ({
    probeRounds: [{ [concern]: { stdout: "old" } }, { [concern]: { stdout: "done" } }],
    commands: [
      { match: /^mkdir -p \/run\/picotrader/ },
      { match: /^rm -rf \/run\/picotrader\/lock$/ },
      { match: /^set -e\np=\/var\/lib\/picotrader\/state\.json/ },
      { match: /^if ip -o -4 addr show/, stdout: () => (holder() === name ? "held\n" : "free\n") },
      {
        match: /^restart-step$/,
        stdout: () => {
          onRestart(name);
          return "";
        },
      },
    ],
  });
  return { a: node("a"), b: node("b"), c: node("c") };
}

t.test("one control-plane node at a time; the next waits for one holder of the virtual IP", async (t) => {
  let holder: string | undefined = "a";
  let gapProbes = 0;
  const transport = new FakeTransport(
    fakeNodes(
      "ha",
      () => {
        // After a's restart the IP is held by nobody for three rounds of probes, then by b.
        if (holder === undefined && ++gapProbes > 6) holder = "b";
        return holder;
      },
      (node) => {
        if (node === "a") holder = undefined;
      },
    ),
  );
  const { results } = await reconcile({
    transport,
    manifest,
    reconcilers: [ha],
    concurrency: 3,
  });
  t.strictSame(
    results.map((r) => [r.node, r.outcome]),
    [
      ["a", "converged"],
      ["b", "converged"],
      ["c", "converged"],
    ],
  );
  const log = transport.log.map((e) => `${e.node} ${e.command.split("\n")[0]}`);
  const restartA = log.indexOf("a restart-step");
  const restartB = log.indexOf("b restart-step");
  t.ok(restartA >= 0 && restartB > restartA, "a restarted before b");
  const heldByB = log.findIndex((l, i) => i > restartA && l.startsWith("b if ip -o -4 addr show"));
  t.ok(heldByB > restartA && heldByB < restartB, "b waited for the virtual IP after a's restart");
  t.ok(gapProbes > 6, "the gap without a holder was waited out");
});

t.test("no holder after a node: the roll stops, the next node is not touched and says why", async (t) => {
  let holder: string | undefined = "a";
  const restarted: string[] = [];
  const transport = new FakeTransport(
    fakeNodes(
      "ha",
      () => holder,
      (node) => {
        restarted.push(node);
        holder = undefined;
      },
    ),
  );
  const { results } = await reconcile({
    transport,
    manifest,
    reconcilers: [ha],
    concurrency: 3,
    vipTimeoutMs: 300,
  });
  t.strictSame(restarted, ["a"], "only the first node was restarted");
  const [a, b] = results;
  t.equal(a?.outcome, "failed");
  t.match(
    a?.diagnostics.map(describeDiagnostic).join("\n"),
    /virtual IP 10\.9\.0\.200 was not held by exactly one node within 0\.3 s \(holders: none\)/,
  );
  t.equal(b?.outcome, "failed");
  t.match(
    b?.diagnostics.map(describeDiagnostic).join("\n"),
    /b: not applied: the rolling apply stopped after a/,
  );
  t.equal(b?.applied, 0);
});

t.test("changes of concerns that are not rolling run in parallel, without waiting", async (t) => {
  const transport = new FakeTransport(
    fakeNodes(
      "plain",
      () => "a",
      () => undefined,
    ),
  );
  const { results } = await reconcile({
    transport,
    manifest,
    reconcilers: [plain],
    concurrency: 3,
  });
  t.strictSame(
    results.map((r) => r.outcome),
    ["converged", "converged", "converged"],
  );
  t.notOk(
    transport.log.some((e) => e.command.startsWith("if ip -o -4 addr show")),
    "the virtual IP was never asked about",
  );
});

t.test(
  "a rebuild never takes the last holder of the virtual IP while another control-plane node is down",
  async (t) => {
    const rebuild: Reconciler<null, string> = {
      ...ha,
      name: "rebuild",
      plan: (_d, o) =>
        o === "done"
          ? []
          : [
              {
                summary: "rebuild",
                before: o,
                after: "done",
                steps: [{ kind: "run", command: "wipe-step" }],
                risk: "destroy",
              },
            ],
    };
    const nodes = fakeNodes(
      "rebuild",
      () => "a",
      () => undefined,
    );
    const transport = new FakeTransport({
      ...nodes,
      b: { probeRounds: [], unreachable: "no route to host" },
    });
    const { results } = await reconcile({
      transport,
      manifest,
      reconcilers: [rebuild],
      concurrency: 3,
      only: ["a"],
    });
    t.equal(results[0]?.outcome, "failed");
    t.match(
      results[0]?.diagnostics.map(describeDiagnostic).join("\n"),
      /a: rebuild refused: b \(control-plane\) is down, and a could be the last holder of the virtual IP/,
    );
    t.notOk(
      transport.log.some((e) => e.command === "wipe-step"),
      "nothing was wiped",
    );
  },
);
