// How an applied node ended, as a table: the outcome is a pure function of what the apply saw.
import t from "tap";
import { exitCodeFor, nodeOutcome, type NodeOutcome } from "../../src/engine/results.js";

t.test("the node's outcome", async (t) => {
  const cases: [string, Parameters<typeof nodeOutcome>[0], NodeOutcome][] = [
    ["nothing left, no error", { rolledBack: false, errors: 0, unexpected: 0, remaining: 0 }, "converged"],
    ["only withheld changes left", { rolledBack: false, errors: 0, unexpected: 0, remaining: 2 }, "pending"],
    [
      "an error, and changes the run should have made",
      { rolledBack: false, errors: 1, unexpected: 1, remaining: 1 },
      "not-converged",
    ],
    [
      "an error, nothing of this run left",
      { rolledBack: false, errors: 1, unexpected: 0, remaining: 0 },
      "failed",
    ],
    [
      "the access proof failed and was rolled back",
      { rolledBack: true, errors: 1, unexpected: 3, remaining: 3 },
      "rolled-back",
    ],
  ];
  for (const [name, seen, want] of cases) t.equal(nodeOutcome(seen), want, name);
});

t.test("the exit code, as terraform plan -detailed-exitcode", async (t) => {
  const r = (outcome: NodeOutcome) => ({
    node: "n",
    outcome,
    applied: 0,
    remaining: [],
    diagnostics: [],
    stats: { connections: 1, execs: 1 },
  });
  t.equal(exitCodeFor([r("converged")], true), 0);
  t.equal(exitCodeFor([r("converged"), r("pending")], true), 2);
  t.equal(exitCodeFor([r("converged"), r("pending")], false), 0);
  for (const bad of ["failed", "not-converged", "rolled-back", "unreachable"] as const)
    t.equal(exitCodeFor([r("pending"), r(bad)], true), 1, bad);
});
