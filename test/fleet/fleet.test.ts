// exec's output: grouped per node under a header with its exit code; unreachable nodes named.
import t from "tap";
import { execOnNodes, renderExecOutcomes } from "../../src/fleet.js";
import type { NodeSpec } from "../../src/manifest/types.generated.js";
import { FakeTransport } from "../../src/transport/fake.js";

t.test("outputs are grouped per node, stderr apart, unreachable nodes named", async (t) => {
  const transport = new FakeTransport({
    a: { probeRounds: [], commands: [{ match: /^uptime$/, stdout: "up 1 day" }] },
    b: { probeRounds: [], commands: [{ match: /^uptime$/, exitCode: 3, stdout: "", stderr: "boom\n" }] },
    c: { probeRounds: [], unreachable: "connection refused" },
  });
  const nodes = ["a", "b", "c"].map((name, i): NodeSpec => ({
    name,
    address: `10.9.0.${11 + i}`,
    roles: ["worker"],
  }));
  const outcomes = await execOnNodes(transport, nodes, "uptime", 2);
  t.equal(
    renderExecOutcomes(outcomes),
    "== a (exit 0)\nup 1 day\n== b (exit 3)\n-- stderr\nboom\n== c: unreachable: c: connection refused\n",
  );
});
