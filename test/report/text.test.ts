import t from "tap";
import { diagnostic } from "../../src/engine/diagnostics.js";
import { exitCodeFor } from "../../src/engine/results.js";
import { diffValues } from "../../src/engine/diff.js";
import type { Disposition, Plan } from "../../src/engine/types.js";
import { buildDriftIssue } from "../../src/report/drift.js";
import { renderJson, type ReconcileReport } from "../../src/report/json.js";
import { renderPlanMarkdown } from "../../src/report/markdown.js";
import { colour, plain, renderPlanText, renderResultsText, styleFor } from "../../src/report/text.js";

const change = (node: string, concern: string, summary: string, before: unknown, after: unknown) => ({
  node,
  concern,
  summary,
  before,
  after,
  diff: diffValues(before, after),
  disposition: { kind: "apply" } as Disposition,
  steps: [],
});

const plan: Plan = {
  cluster: "demo",
  createdAt: "2026-11-27T00:00:00.000Z",
  nodes: [
    {
      node: "node1",
      address: "10.88.0.11",
      status: "planned",
      state: "pending",
      identity: "sysman (key)",
      diagnostics: [],
      changes: [
        change(
          "node1",
          "hosts",
          "/etc/hosts: 2 addresses to change",
          { "127.0.1.1": "odroid64", "10.0.0.9": "x" },
          { "127.0.1.1": "node1" },
        ),
        change(
          "node1",
          "ip-forward",
          "net.ipv4.ip_forward 0 -> 1",
          { "net.ipv4.ip_forward": "0" },
          { "net.ipv4.ip_forward": "1" },
        ),
      ],
    },
    {
      node: "node2",
      address: "10.88.0.12",
      status: "planned",
      state: "converged",
      identity: "sysman (key)",
      diagnostics: [],
      changes: [],
    },
    {
      node: "node3",
      address: "10.88.0.13",
      status: "unreachable",
      state: "unknown",
      diagnostics: [
        diagnostic("node3", "unreachable", "node3: cannot connect to 10.88.0.13:22: connect EHOSTUNREACH"),
      ],
      changes: [],
    },
  ],
};

t.test("plan text", async (t) => {
  t.matchSnapshot(renderPlanText(plan));
});

t.test("results text", async (t) => {
  const results = [
    {
      node: "node1",
      outcome: "converged" as const,
      applied: 2,
      remaining: [],
      diagnostics: [],
      stats: { connections: 1, execs: 6 },
    },
    {
      node: "node3",
      outcome: "unreachable" as const,
      applied: 0,
      remaining: [],
      diagnostics: [diagnostic("node3", "unreachable", "node3: cannot connect")],
      stats: { connections: 1, execs: 0 },
    },
  ];
  t.matchSnapshot(renderResultsText(results));
  t.matchSnapshot(renderPlanMarkdown(plan, results));
});

/** Nodes that could not be observed, completely or in part. */
const unknownPlan: Plan = {
  cluster: "demo",
  createdAt: "2026-11-27T00:00:00.000Z",
  nodes: [
    {
      node: "node1",
      address: "10.88.0.11",
      status: "unreachable",
      state: "unknown",
      diagnostics: [
        diagnostic("node1", "unreachable", "node1: cannot connect to 10.88.0.11:22: connect EHOSTUNREACH"),
      ],
      changes: [],
    },
    {
      node: "node2",
      address: "10.88.0.12",
      status: "planned",
      state: "unknown",
      unknown: ["firewall"],
      identity: "sysman (key)",
      diagnostics: [
        diagnostic(
          "node2",
          "facts-unknown",
          "firewall: facts unknown: probe exited 2: iptables: Permission denied",
          {
            concern: "firewall",
          },
        ),
      ],
      changes: [],
    },
  ],
};

t.test("unknown is never converged: text, Markdown, JSON and the drift issue say so", async (t) => {
  const text = renderPlanText(unknownPlan);
  t.match(text, "node2 (10.88.0.12) as sysman (key): unknown (facts of firewall unknown)");
  t.match(
    text,
    "Plan: 0 to create, 0 to change, 0 to remove, 0 reboots, 0 rebuilds on 2 nodes; 0 converged, 0 pending, 2 unknown (1 unreachable).",
  );
  t.notMatch(text, /: converged/);
  const results = [
    {
      node: "node1",
      outcome: "unreachable" as const,
      applied: 0,
      remaining: [],
      diagnostics: [],
      stats: { connections: 1, execs: 0 },
    },
    {
      node: "node2",
      outcome: "failed" as const,
      applied: 0,
      remaining: [],
      diagnostics: [],
      stats: { connections: 1, execs: 1 },
    },
  ];
  const md = renderPlanMarkdown(unknownPlan, results);
  t.notMatch(md, /converged/, "Markdown never says converged");
  t.match(md, "**State unknown on node1, node2** (unreachable, or some facts could not be read).");
  t.match(md, "| node2 | unknown | failed | 0 |");
  const json = JSON.parse(
    renderJson({ plan: unknownPlan, results, exitCode: 1 } as unknown as ReconcileReport),
  ) as {
    plan: Plan;
  };
  t.strictSame(
    json.plan.nodes.map((n) => [n.node, n.state, n.unknown ?? []]),
    [
      ["node1", "unknown", []],
      ["node2", "unknown", ["firewall"]],
    ],
  );
  const issue = buildDriftIssue({ plan: unknownPlan, results, exitCode: 1 } as unknown as ReconcileReport);
  t.equal(issue.drift, false);
  t.strictSame(issue.unknown, ["node1", "node2"], "the issue script will neither close nor open anything");
  t.match(issue.title, /^State unknown in demo: node1, node2$/);
});

t.test(
  "a mark per kind of change, a count per kind, and colour only where the conventions allow",
  async (t) => {
    const c = (concern: string, extra: Partial<Plan["nodes"][number]["changes"][number]>) => ({
      ...change("n1", concern, `${concern} change`, {}, {}),
      ...extra,
    });
    const kinds: Plan = {
      cluster: "demo",
      createdAt: "2026-11-27T00:00:00.000Z",
      nodes: [
        {
          node: "n1",
          address: "10.0.0.1",
          status: "planned",
          state: "pending",
          identity: "sysman (key)",
          diagnostics: [],
          changes: [
            c("admin-user", { action: "create" }),
            c("hosts", {}),
            c("tftp-server", { action: "remove" }),
            c("boot", { risk: "reboot", steps: [{ kind: "reboot" }] }),
            c("generation", { risk: "destroy", steps: [{ kind: "reboot" }] }),
          ],
        },
      ],
    };
    const text = renderPlanText(kinds);
    t.strictSame(
      text.split("\n").filter((l) => /^ {2}\S/.test(l)),
      [
        "  + admin-user: admin-user change",
        "  ~ hosts: hosts change",
        "  - tftp-server: tftp-server change",
        "  ^ boot: boot change [risk: reboot]",
        "  ! generation: generation change [risk: destroy]",
      ],
    );
    t.match(text, "Plan: 1 to create, 1 to change, 1 to remove, 1 reboot, 1 rebuild on 1 node;");
    t.equal(styleFor(true, {}), colour, "a terminal gets colour");
    t.equal(styleFor(true, { CI: "true" }), plain, "CI does not");
    t.equal(styleFor(true, { NO_COLOR: "1" }), plain, "NO_COLOR turns it off");
    t.equal(styleFor(false, { FORCE_COLOR: "1" }), colour, "FORCE_COLOR turns it on, even in a pipe");
    t.equal(styleFor(false, { FORCE_COLOR: "0" }), plain, "FORCE_COLOR=0 does not");
    t.equal(styleFor(false, {}), plain, "a pipe gets none");
    t.ok(renderPlanText(kinds, colour).includes("\u001b[32m  + admin-user"), "create in green");
  },
);

t.test("every node unreachable: no report says converged, and the exit code is 1", async (t) => {
  const down: Plan = {
    cluster: "demo",
    createdAt: "2026-11-27T00:00:00.000Z",
    nodes: ["node1", "node2"].map((node, i) => ({
      node,
      address: `10.88.0.1${i + 1}`,
      status: "unreachable" as const,
      state: "unknown" as const,
      diagnostics: [diagnostic(node, "unreachable", `${node}: cannot connect`)],
      changes: [],
    })),
  };
  const results = down.nodes.map((n) => ({
    node: n.node,
    outcome: "unreachable" as const,
    applied: 0,
    remaining: [],
    diagnostics: n.diagnostics,
    stats: { connections: 1, execs: 0 },
  }));
  t.notMatch(renderPlanText(down), /: converged/, "no node is said converged");
  t.match(renderPlanText(down), "0 converged, 0 pending, 2 unknown (2 unreachable).");
  t.notMatch(renderPlanMarkdown(down, results), /converged/);
  t.match(renderPlanMarkdown(down, results), "No changes pending on the nodes that could be observed.");
  const issue = buildDriftIssue({ plan: down, results, exitCode: 1 } as unknown as ReconcileReport);
  t.strictSame([issue.drift, issue.unknown], [false, ["node1", "node2"]], "the drift issue stays as it is");
  t.equal(exitCodeFor(results, true), 1);
});
