// The dead-man timer's restore log, as observed and as every report shows it.
import t from "tap";
import { describeRestore, parseDeadmanLog } from "../../src/engine/record.js";
import type { Plan } from "../../src/engine/types.js";
import { renderPlanMarkdown } from "../../src/report/markdown.js";
import { renderPlanText } from "../../src/report/text.js";

t.test("the log's lines become restores; anything else is ignored", async (t) => {
  t.strictSame(parseDeadmanLog("2026-11-27T11:02:33Z mwyv1\ngarbage line here\n2026-11-27T12:00:00Z abc\n"), [
    { at: "2026-11-27T11:02:33Z", transaction: "mwyv1" },
    { at: "2026-11-27T12:00:00Z", transaction: "abc" },
  ]);
  t.strictSame(parseDeadmanLog(""), []);
});

t.test("text and Markdown name the restore under the node, even with nothing pending", async (t) => {
  const restored = { at: "2026-11-27T11:02:33Z", transaction: "mwyv1" };
  const plan: Plan = {
    cluster: "c",
    createdAt: "2026-11-27T11:05:00Z",
    nodes: [
      {
        node: "n1",
        address: "10.0.0.1",
        status: "planned",
        state: "converged",
        identity: "sysman (key)",
        diagnostics: [],
        changes: [],
      },
      {
        node: "n2",
        address: "10.0.0.2",
        status: "planned",
        state: "converged",
        identity: "sysman (key)",
        diagnostics: [],
        changes: [],
        restored: [restored],
      },
    ],
  };
  const line = "restored by the dead-man timer at 2026-11-27T11:02:33Z (access transaction mwyv1)";
  t.equal(describeRestore(restored), line);
  t.match(renderPlanText(plan), `n2 (10.0.0.2) as sysman (key): converged\n  ! ${line}\n`);
  t.notMatch(renderPlanText(plan), /n1 .*\n {2}!/);
  t.match(renderPlanMarkdown(plan, []), `### n2\n\n- :warning: ${line}`);
});
