import t from "tap";
import { describeDiagnostic, diagnostic } from "../../src/engine/diagnostics.js";
import { reconcilers } from "../../reconcilers/index.js";
import { hosts } from "../../reconcilers/hosts.js";
import { dryRun, exitCodeFor, reconcile } from "../../src/engine/reconcile.js";
import { NO_INPUTS } from "../../src/engine/types.js";
import { parseManifestSource } from "../../src/manifest/load.js";
import type { Manifest } from "../../src/manifest/types.generated.js";
import { FakeTransport } from "../../src/transport/fake.js";
import { convergedProbe, factoryProbe, TEST_ADMIN_KEY } from "../helpers/facts.js";

const manifest = parseManifestSource(
  `apiVersion: picotrader/v1
cluster: { name: t, subnet: 10.9.0.0/24 }
admin: { user: sysman, sshKeys: ["${TEST_ADMIN_KEY}"] }
firewall: { allow: [{ port: 22 }] }
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
    NO_INPUTS,
  ).content;
const converged = (node: "a" | "b") => convergedProbe(node, hostsOf(node), ["22"]);

/** What an access transaction puts before each of its steps: its mark, and the check that it is armed. */
const TXN_PREFIX =
  /^export PICOTRADER_TXN=\w+\n\[ -e \/var\/lib\/picotrader\/rollback\/\w+\/armed \] \|\| [^\n]*\n/;

/** `re`, with or without the transaction prefix. */
const step = (re: RegExp) => new RegExp(`(${TXN_PREFIX.source.slice(1)})?${re.source.slice(1)}`, "s");

/** Every command an apply on a factory node may run; anything else fails the test. */
const stepCommands = [
  { match: /^mkdir -p \/run\/picotrader && if mkdir/ },
  { match: /^rm -rf \/run\/picotrader\/lock$/ },
  { match: /^set -e\numask 077\nd=\/var\/lib\/picotrader\/rollback\// },
  { match: /^if \[ -d \/run\/systemd\/system \]/ },
  { match: /^(\[ -e \S+\/armed \] \|\| [^\n]*\n)?systemctl stop picotrader-deadman-/ },
  { match: /^sh \/var\/lib\/picotrader\/rollback\/\w+\/restore\.sh && / },
  {
    match: step(
      /^set -e\np=\/(etc\/(hosts|hostname|sudoers\.d\/90-picotrader-admin|ssh\/sshd_config\.d\/00-picotrader\.conf|sysctl\.d\/90-picotrader-ip-forward\.conf)|home\/sysman\/\.ssh\/authorized_keys|var\/lib\/picotrader\/state\.json)\n/,
    ),
  },
  { match: step(/^hostname [ab]$/) },
  { match: step(/^useradd --create-home --shell \/bin\/bash --password '\*' sysman$/) },
  { match: step(/^install -d -m 0700 -o sysman -g sysman \/home\/sysman\/\.ssh$/) },
  { match: step(/^sshd -t$/) },
  { match: step(/^systemctl reload ssh/) },
  { match: step(/^ufw allow 22\/tcp$/) },
  { match: step(/^ufw --force enable$/) },
  { match: step(/^sysctl -q -w net\.ipv4\.ip_forward=1$/) },
];

function label(full: string): string {
  const command = full.replace(TXN_PREFIX, "");
  const txn = command === full ? "" : "[txn] ";
  if (command.startsWith("set -e\np=")) return `${txn}write ${command.split("\n")[1]?.slice(2)}`;
  if (command.startsWith("set -e\numask 077\nd=/var/lib/picotrader/rollback/")) return "snapshot";
  if (command.startsWith("if [ -d /run/systemd/system ]")) return "arm dead-man";
  if (/^(\[ -e \S+\/armed \] \|\| [^\n]*\n)?systemctl stop picotrader-deadman-/.test(command))
    return "disarm";
  if (command.startsWith("sh /var/lib/picotrader/rollback/")) return "rollback";
  if (command.startsWith("mkdir -p /run/picotrader && if mkdir")) return "lock";
  return `${txn}${command}`;
}

t.test("a converged cluster: one connection and one exec per node, exit 0", async (t) => {
  const transport = new FakeTransport({
    a: { probeRounds: [converged("a")] },
    b: { probeRounds: [converged("b")] },
  });
  const { plan, results } = await dryRun({
    transport,
    manifest,
    reconcilers,
    concurrency: 4,
  });
  t.strictSame(
    plan.nodes.map((n) => [n.changes.length, n.diagnostics]),
    [
      [0, []],
      [0, []],
    ],
  );
  t.strictSame(
    results.map((r) => r.outcome),
    ["converged", "converged"],
  );
  t.strictSame(
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
  const { plan, results } = await dryRun({
    transport,
    manifest,
    reconcilers,
    concurrency: 4,
  });
  t.strictSame(
    plan.nodes[0]?.changes.map((c) => c.concern),
    [
      "hosts",
      "hostname",
      "admin-user",
      "admin-user",
      "ssh-keys",
      "sshd",
      "firewall",
      "firewall",
      "ip-forward",
      "ip-forward",
    ],
  );
  t.strictSame(
    transport.log.map((l) => l.command),
    ["sh -s", "sh -s"],
    "only the probe ran",
  );
  t.equal(exitCodeFor(results, true), 2);
  t.equal(exitCodeFor(results, false), 0);
  t.strictSame(JSON.parse(JSON.stringify(plan)), plan, "the plan is plain JSON data");
});

t.test(
  "apply runs the plan in dependency order inside an access transaction, proves it, then verifies",
  async (t) => {
    const transport = new FakeTransport({
      a: { probeRounds: [factoryProbe("odroid64"), converged("a")], commands: stepCommands },
      b: { probeRounds: [factoryProbe("odroid64"), converged("b")], commands: stepCommands },
    });
    const { results } = await reconcile({ transport, manifest, reconcilers, concurrency: 1 });
    t.strictSame(
      results.map((r) => [r.outcome, r.applied, r.diagnostics]),
      [
        ["converged", 10, []],
        ["converged", 10, []],
      ],
    );
    t.strictSame(
      transport.log.filter((l) => l.node === "a").map((l) => label(l.command)),
      [
        "sh -s",
        "lock",
        "snapshot",
        "arm dead-man",
        "[txn] useradd --create-home --shell /bin/bash --password '*' sysman",
        "[txn] write /etc/sudoers.d/90-picotrader-admin",
        "[txn] install -d -m 0700 -o sysman -g sysman /home/sysman/.ssh",
        "[txn] write /home/sysman/.ssh/authorized_keys",
        "[txn] write /etc/ssh/sshd_config.d/00-picotrader.conf",
        "[txn] sshd -t",
        "[txn] systemctl reload ssh 2>/dev/null || systemctl reload sshd",
        "[txn] ufw allow 22/tcp",
        "[txn] ufw --force enable",
        "(proof: new login as sysman)",
        "disarm",
        "write /etc/hosts",
        "write /etc/hostname",
        "hostname a",
        "sysctl -q -w net.ipv4.ip_forward=1",
        "write /etc/sysctl.d/90-picotrader-ip-forward.conf",
        "sh -s",
        "write /var/lib/picotrader/state.json",
        "rm -rf /run/picotrader/lock",
      ],
    );
    t.equal(
      transport.log.find((l) => l.node === "a" && l.command.includes("p=/etc/hostname"))?.stdin,
      "a\n",
      "the file content goes over stdin",
    );
    const snapshot =
      transport.log.find((l) => l.node === "a" && label(l.command) === "snapshot")?.command ?? "";
    for (const path of [
      "/etc/sudoers.d/90-picotrader-admin",
      "/home/sysman/.ssh/authorized_keys",
      "/etc/ssh/sshd_config.d/00-picotrader.conf",
      "/etc/ufw",
    ]) {
      t.ok(snapshot.includes(`printf '%s\\n' ${path} >>`), `the snapshot saves ${path}`);
    }
    t.equal(exitCodeFor(results, true), 0);
  },
);

t.test("a refused proof rolls the access changes back and names the node", async (t) => {
  const transport = new FakeTransport({
    a: {
      probeRounds: [factoryProbe("odroid64")],
      commands: stepCommands,
      proofRefused: "all configured authentication methods failed",
    },
    b: { probeRounds: [factoryProbe("odroid64"), converged("b")], commands: stepCommands },
  });
  const { results } = await reconcile({ transport, manifest, reconcilers, concurrency: 2 });
  t.equal(results[0]?.outcome, "rolled-back");
  t.match(
    results[0]?.diagnostics.map(describeDiagnostic).join("\n"),
    /a: access changes rolled back: a new login as sysman with the key failed: a: all configured authentication methods failed/,
  );
  const onA = transport.log.filter((l) => l.node === "a").map((l) => label(l.command));
  t.strictSame(
    onA.slice(-5),
    [
      "(proof: new login as sysman)",
      "rollback",
      "sh -s",
      "write /var/lib/picotrader/state.json",
      "rm -rf /run/picotrader/lock",
    ],
    "rolled back over the open connection, observed again, recorded, unlocked",
  );
  t.notOk(
    onA.includes("disarm"),
    "the dead-man is not simply cancelled: the rollback command disarms it after restoring",
  );
  t.equal(results[1]?.outcome, "converged", "the other node is not affected");
  t.equal(exitCodeFor(results, true), 1);
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
      b: { probeRounds: [factoryProbe("odroid64"), converged("b")], commands: stepCommands },
    });
    const { results } = await reconcile({ transport, manifest, reconcilers, concurrency: 2 });
    t.equal(results[0]?.outcome, "not-converged", "the node is reported, not converged");
    t.equal(
      results[0]?.applied,
      7,
      "the 6 access changes (proven first) and hosts were applied before hostname failed",
    );
    t.match(
      results[0]?.diagnostics.map(describeDiagnostic).join("\n"),
      /^a: hostname: step failed \(exit 1\): hostname a\nhostname: you must be root/m,
    );
    const onA = transport.log.filter((l) => l.node === "a").map((l) => label(l.command));
    t.ok(
      onA.indexOf("disarm") < onA.indexOf("hostname a"),
      "the access changes were proven and disarmed first",
    );
    t.notOk(
      onA.includes("rollback"),
      "proven access changes are kept: a later failure is not an access failure",
    );
    t.notOk(
      transport.log.some((l) => l.node === "a" && l.command.includes("sysctl -q -w")),
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
    b: { probeRounds: [factoryProbe("odroid64"), converged("b")], commands: stepCommands },
  });
  const { plan, results } = await reconcile({
    transport,
    manifest,
    reconcilers,
    concurrency: 2,
  });
  t.equal(plan.nodes[0]?.status, "unreachable");
  t.match(plan.nodes[0]?.diagnostics[0], { kind: "unreachable", summary: /^a: cannot connect/ });
  t.strictSame(
    results.map((r) => r.outcome),
    ["unreachable", "converged"],
  );
  t.equal(exitCodeFor(results, false), 1);
});

t.test("a failing probe makes only its concern unknown", async (t) => {
  const probe = {
    ...converged("a"),
    hostname: { stdout: "", exitCode: 127, stderr: "sh: hostname: not found" },
  };
  const transport = new FakeTransport({ a: { probeRounds: [probe] }, b: { probeRounds: [converged("b")] } });
  const { plan, results } = await dryRun({
    transport,
    manifest,
    reconcilers,
    concurrency: 2,
    only: ["a"],
  });
  t.strictSame(
    plan.nodes.map((n) => n.node),
    ["a"],
    "--only limits the nodes",
  );
  t.strictSame(plan.nodes[0]?.diagnostics, [
    diagnostic("a", "facts-unknown", "hostname: facts unknown: probe exited 127: sh: hostname: not found", {
      concern: "hostname",
    }),
  ]);
  t.strictSame(plan.nodes[0]?.changes, [], "the other concerns were still planned (converged)");
  t.equal(results[0]?.outcome, "failed");
});

t.test("--only with an unknown node is an error naming it", async (t) => {
  const transport = new FakeTransport({});
  await t.rejects(
    dryRun({ transport, manifest, reconcilers, concurrency: 1, only: ["zz"] }),
    /no node named zz/,
  );
});

t.test("nothing changes without a yes: a refusal stops the run before any command on any node", async (t) => {
  const transport = new FakeTransport({
    a: { probeRounds: [factoryProbe("odroid64")], commands: stepCommands },
    b: { probeRounds: [converged("b")], commands: stepCommands },
  });
  const asked: { changes: number; nodes: number }[] = [];
  await t.rejects(
    reconcile({
      transport,
      manifest,
      reconcilers,
      concurrency: 2,
      approve: (pending) => (asked.push(pending), Promise.resolve(false)),
    }),
    {
      message:
        "10 changes on 1 node not approved (answer y on a terminal, or pass --yes): nothing was applied",
    },
  );
  t.strictSame(asked, [{ changes: 10, nodes: 1 }], "asked once, with what would be applied");
  t.strictSame(
    transport.log.map((l) => l.command),
    ["sh -s", "sh -s"],
    "only the probes ran",
  );
});

t.test("a plan with nothing to apply asks nothing", async (t) => {
  const transport = new FakeTransport({
    a: { probeRounds: [converged("a")], commands: stepCommands },
    b: { probeRounds: [converged("b")], commands: stepCommands },
  });
  let asked = 0;
  const { results } = await reconcile({
    transport,
    manifest,
    reconcilers,
    concurrency: 2,
    approve: () => (asked++, Promise.resolve(false)),
  });
  t.equal(asked, 0);
  t.strictSame(
    results.map((r) => r.outcome),
    ["converged", "converged"],
  );
});

t.test(
  "a concern's plan sees its facts on the other nodes: undefined where a node was not observed",
  async (t) => {
    const seen: Record<string, unknown>[] = [];
    const spanning = {
      name: "spanning",
      applies: () => true,
      desired: () => ({}),
      probe: () => "echo x",
      parse: (output: string) => ({ said: output.trim() }),
      plan: (_d: unknown, _o: unknown, peers: Record<string, unknown>) => {
        seen.push(peers);
        return [];
      },
    };
    const three = {
      ...manifest,
      nodes: [...manifest.nodes, { name: "c", address: "10.9.0.13", roles: ["worker"] }],
    };
    const transport = new FakeTransport({
      a: { probeRounds: [{ spanning: { stdout: "from a" } }] },
      b: { probeRounds: [{ spanning: { stdout: "from b" } }] },
      c: { probeRounds: [], unreachable: "connection refused" },
    });
    await dryRun({ transport, manifest: three as Manifest, reconcilers: [spanning], concurrency: 4 });
    t.strictSame(seen, [
      { b: { said: "from b" }, c: undefined },
      { a: { said: "from a" }, c: undefined },
    ]);
  },
);
