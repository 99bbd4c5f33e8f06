import t from "tap";
import { diffValues } from "../../src/engine/diff.js";
import type { Plan } from "../../src/engine/types.js";
import { renderPlanMarkdown } from "../../src/report/markdown.js";
import { renderPlanText, renderResultsText } from "../../src/report/text.js";

const change = (node: string, concern: string, summary: string, before: unknown, after: unknown) => ({
  node,
  concern,
  summary,
  before,
  after,
  diff: diffValues(before, after),
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
      identity: "sysman (key)",
      errors: [],
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
      identity: "sysman (key)",
      errors: [],
      changes: [],
    },
    {
      node: "node3",
      address: "10.88.0.13",
      status: "unreachable",
      errors: ["node3: cannot connect to 10.88.0.13:22: connect EHOSTUNREACH"],
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
      errors: [],
      stats: { connections: 1, execs: 6 },
    },
    {
      node: "node3",
      outcome: "unreachable" as const,
      applied: 0,
      remaining: [],
      errors: ["node3: cannot connect"],
      stats: { connections: 1, execs: 0 },
    },
  ];
  t.matchSnapshot(renderResultsText(results));
  t.matchSnapshot(renderPlanMarkdown(plan, results));
});
