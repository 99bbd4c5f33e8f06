import t from "tap";
import { reconcilers } from "../../reconcilers/index.js";
import { hosts } from "../../reconcilers/hosts.js";
import { exitCodeFor, reconcile } from "../../src/engine/reconcile.js";
import { parseManifestSource } from "../../src/manifest/load.js";
import type { Manifest } from "../../src/manifest/types.generated.js";
import { FakeTransport } from "../../src/transport/fake.js";
import { convergedProbe, factoryProbe } from "../helpers/facts.js";

const manifest = parseManifestSource(
  `apiVersion: picotrader/v1
cluster: { name: t, subnet: 10.9.0.0/24 }
admin: { user: sysman, sshKeys: [] }
nodes:
  - { name: a, address: 10.9.0.11, roles: [control-plane] }
  - { name: b, address: 10.9.0.12, roles: [worker] }
`,
  "t.yaml",
).data as Manifest;

const hostsOf = (node: "a" | "b") =>
  hosts.desired(
    manifest.nodes.find((n) => n.name === node)!,
    manifest,
  ).content;
const stepCommands = [
  { match: /^mkdir -p \/run\/picotrader && if mkdir/ },
  { match: /^rm -rf \/run\/picotrader\/lock$/ },
  { match: /^set -e\np=\/etc\/(hosts|hostname|sysctl\.d\/90-picotrader-ip-forward\.conf)\n/ },
  { match: /^hostname [ab]$/ },
  { match: /^sysctl -q -w net\.ipv4\.ip_forward=1$/ },
];

t.test("a converged cluster: one connection and one exec per node, exit 0", async (t) => {
  const transport = new FakeTransport({
    a: { probeRounds: [convergedProbe("a", hostsOf("a"))] },
    b: { probeRounds: [convergedProbe("b", hostsOf("b"))] },
  });
  const { plan, results } = await reconcile({
    transport,
    manifest,
    reconcilers,
    concurrency: 4,
    apply: false,
  });
  t.same(
    plan.nodes.map((n) => n.changes.length),
    [0, 0],
  );
  t.same(
    results.map((r) => r.outcome),
    ["converged", "converged"],
  );
  t.same(
    [...transport.stats.values()],
    [
      { connections: 1, execs: 1 },
      { connections: 1, execs: 1 },
    ],
  );
  t.equal(exitCodeFor(results, true), 0);
});

t.test("dry-run of factory nodes plans every concern and runs nothing", async (t) => {
  const transport = new FakeTransport({
    a: { probeRounds: [factoryProbe("odroid64")] },
    b: { probeRounds: [factoryProbe("odroid64")] },
  });
  const { plan, results } = await reconcile({
    transport,
    manifest,
    reconcilers,
    concurrency: 4,
    apply: false,
  });
  t.same(
    plan.nodes[0]?.changes.map((c) => c.concern),
    ["hosts", "hostname", "ip-forward", "ip-forward"],
  );
  t.same(
    transport.log.map((l) => l.command),
    ["sh -s", "sh -s"],
    "only the probe ran",
  );
  t.equal(exitCodeFor(results, true), 2);
  t.equal(exitCodeFor(results, false), 0);
  t.same(JSON.parse(JSON.stringify(plan)), plan, "the plan is plain JSON data");
});

t.test("apply runs the plan in dependency order, then verifies", async (t) => {
  const transport = new FakeTransport({
    a: { probeRounds: [factoryProbe("odroid64"), convergedProbe("a", hostsOf("a"))], commands: stepCommands },
    b: { probeRounds: [factoryProbe("odroid64"), convergedProbe("b", hostsOf("b"))], commands: stepCommands },
  });
  const { results } = await reconcile({ transport, manifest, reconcilers, concurrency: 1, apply: true });
  t.same(
    results.map((r) => [r.outcome, r.applied]),
    [
      ["converged", 4],
      ["converged", 4],
    ],
  );
  const label = (c: string) =>
    c.startsWith("set -e\n")
      ? c.split("\n")[1]
      : c.startsWith("mkdir -p /run/picotrader && if mkdir /run/picotrader/lock")
        ? "lock"
        : c;
  const onA = transport.log.filter((l) => l.node === "a").map((l) => label(l.command));
  t.same(onA, [
    "sh -s",
    "lock",
    "p=/etc/hosts",
    "p=/etc/hostname",
    "hostname a",
    "sysctl -q -w net.ipv4.ip_forward=1",
    "p=/etc/sysctl.d/90-picotrader-ip-forward.conf",
    "rm -rf /run/picotrader/lock",
    "sh -s",
  ]);
  t.equal(
    transport.log.find((l) => l.node === "a" && l.command.includes("p=/etc/hostname"))?.stdin,
    "a\n",
    "the file content goes over stdin",
  );
  t.equal(exitCodeFor(results, true), 0);
});

t.test(
  "a failing step stops that node only and names node, concern, command, exit code, stderr",
  async (t) => {
    const failing = [
      { match: /^hostname a$/, exitCode: 1, stderr: "hostname: you must be root to change the host name" },
      ...stepCommands,
    ];
    const transport = new FakeTransport({
      a: { probeRounds: [factoryProbe("odroid64")], commands: failing },
      b: {
        probeRounds: [factoryProbe("odroid64"), convergedProbe("b", hostsOf("b"))],
        commands: stepCommands,
      },
    });
    const { results } = await reconcile({ transport, manifest, reconcilers, concurrency: 2, apply: true });
    t.equal(results[0]?.outcome, "failed");
    t.equal(results[0]?.applied, 1, "hosts was applied before hostname failed");
    t.match(
      results[0]?.errors.join("\n"),
      /^a: hostname: step failed \(exit 1\): hostname a\nhostname: you must be root/m,
    );
    t.notOk(
      transport.log.some((l) => l.node === "a" && l.command.includes("ip_forward")),
      "nothing after the failing step ran",
    );
    t.ok(
      transport.log.some((l) => l.node === "a" && l.command === "rm -rf /run/picotrader/lock"),
      "the lock was released",
    );
    t.equal(results[1]?.outcome, "converged");
    t.equal(exitCodeFor(results, true), 1);
  },
);

t.test("an unreachable node is named; the others converge", async (t) => {
  const transport = new FakeTransport({
    a: { probeRounds: [], unreachable: "cannot connect to 10.9.0.11:22: connect EHOSTUNREACH" },
    b: { probeRounds: [factoryProbe("odroid64"), convergedProbe("b", hostsOf("b"))], commands: stepCommands },
  });
  const { plan, results } = await reconcile({
    transport,
    manifest,
    reconcilers,
    concurrency: 2,
    apply: true,
  });
  t.equal(plan.nodes[0]?.status, "unreachable");
  t.match(plan.nodes[0]?.errors[0], /^a: cannot connect/);
  t.same(
    results.map((r) => r.outcome),
    ["unreachable", "converged"],
  );
  t.equal(exitCodeFor(results, false), 1);
});

t.test("a failing probe makes only its concern unknown", async (t) => {
  const probe = {
    ...convergedProbe("a", hostsOf("a")),
    hostname: { stdout: "", exitCode: 127, stderr: "sh: hostname: not found" },
  };
  const transport = new FakeTransport({
    a: { probeRounds: [probe] },
    b: { probeRounds: [convergedProbe("b", hostsOf("b"))] },
  });
  const { plan, results } = await reconcile({
    transport,
    manifest,
    reconcilers,
    concurrency: 2,
    apply: false,
    only: ["a"],
  });
  t.same(
    plan.nodes.map((n) => n.node),
    ["a"],
    "--only limits the nodes",
  );
  t.same(plan.nodes[0]?.errors, ["hostname: facts unknown: probe exited 127: sh: hostname: not found"]);
  t.same(plan.nodes[0]?.changes, [], "hosts and ip-forward were still planned (converged)");
  t.equal(results[0]?.outcome, "failed");
});

t.test("--only with an unknown node is an error naming it", async (t) => {
  const transport = new FakeTransport({});
  await t.rejects(
    reconcile({ transport, manifest, reconcilers, concurrency: 1, apply: false, only: ["zz"] }),
    /no node named zz/,
  );
});
