// The JSON report is what CI keeps as an artifact: a sensitive write shows its length, never its content.
import t from "tap";
import { renderJson } from "../../src/report/json.js";

t.test("sensitive write steps are redacted; others are shown whole", async (t) => {
  const write = { kind: "write" as const, path: "/etc/x", mode: "0600", owner: "root", group: "root" };
  const change = {
    concern: "keepalived",
    node: "n1",
    summary: "rewrite",
    before: {},
    after: {},
    diff: [],
    disposition: { kind: "apply" as const },
    steps: [
      { ...write, content: "auth_pass s3cret\n", sensitive: true },
      { ...write, content: "plain text\n" },
    ],
  };
  const out = renderJson({
    version: 1,
    mode: "dry-run",
    exitCode: 2,
    plan: {
      cluster: "c",
      createdAt: "now",
      nodes: [
        {
          node: "n1",
          address: "10.0.0.1",
          status: "planned",
          state: "pending",
          diagnostics: [],
          changes: [change],
        },
      ],
    },
    results: [
      {
        node: "n1",
        outcome: "pending",
        applied: 0,
        remaining: [change],
        diagnostics: [],
        stats: { connections: 1, execs: 1 },
      },
    ],
  });
  t.notMatch(out, /s3cret/, "the secret appears nowhere, neither in the plan nor in the results");
  t.equal(out.match(/\(sensitive: 17 bytes\)/g)?.length, 2);
  t.match(out, /plain text/);
});
