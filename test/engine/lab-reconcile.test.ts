// The engine end to end on real lab nodes: converge from the factory image, plan nothing the
// second time, find and repair drift made by hand, and go on past a node that is down.
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { labManifest, labStart, labStop } from "../../src/lab/lab.js";
import type { ReconcileReport } from "../../src/report/json.js";
import { picotrader, sshAdmin, sshNode, useLab } from "../helpers/lab.js";
import { tempDir } from "../helpers/temp.js";

const NAME = "tengine";
const lab = await useLab(t, NAME, 3);

if (lab) {
  const file = join(tempDir(t, "test"), "lab.yaml");
  writeFileSync(file, labManifest(lab, { runtime: false }));
  const dryRun = async () => {
    const r = await picotrader(lab, ["reconcile", "-f", file, "--dry-run", "--detailed-exitcode", "--json"]);
    return { exitCode: r.exitCode, report: JSON.parse(r.stdout) as ReconcileReport, stderr: r.stderr };
  };
  const etcSum = (node: string) =>
    sshNode(lab, node, "find /etc /var/lib/picotrader -type f 2>/dev/null | sort | xargs md5sum | md5sum");

  t.test("a dry-run of a fresh lab plans every concern and changes nothing on the nodes", async (t) => {
    const before = await etcSum("node1");
    const { exitCode, report } = await dryRun();
    t.equal(exitCode, 2, "changes pending");
    for (const n of report.plan.nodes) {
      t.strictSame(
        [...new Set(n.changes.map((c) => c.concern))],
        ["hosts", "hostname", "admin-user", "ssh-keys", "sshd", "firewall", "ip-forward"],
        n.node,
      );
    }
    t.equal((await etcSum("node1")).stdout, before.stdout, "the probe wrote nothing");
  });

  t.test("reconcile converges the fresh lab, showing plan then apply", async (t) => {
    const r = await picotrader(lab, ["reconcile", "-f", file, "--yes"]);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(
      r.stdout,
      /node1 \(10\.88\.0\.11\) as root \(key\): 10 changes[\s\S]*Plan: 3 to create, 27 to change, 0 to remove, 0 reboots, 0 rebuilds on 3 nodes[\s\S]*Apply complete: 3 nodes converged\./,
    );
    for (const node of lab.nodes) {
      const facts = await sshAdmin(
        lab,
        node.name,
        "hostname; cat /etc/hostname; sysctl -n net.ipv4.ip_forward; getent hosts node3 workstation $(hostname)",
      );
      t.strictSame(
        facts.stdout
          .trim()
          .split("\n")
          .map((l) => l.split(/\s+/).join(" ")),
        [
          node.name,
          node.name,
          "1",
          "10.88.0.13 node3",
          "10.88.0.1 workstation",
          `${node.address} ${node.name}`,
        ],
        node.name,
      );
    }
  });

  t.test(
    "the second run plans nothing, as the admin user, with one connection and one exec per node",
    async (t) => {
      const { exitCode, report } = await dryRun();
      t.equal(exitCode, 0);
      t.strictSame(
        report.plan.nodes.map((n) => [n.changes.length, n.identity]),
        [0, 0, 0].map(() => [0, "sysman (key)"]),
      );
      t.strictSame(
        report.results.map((r) => r.stats),
        [0, 0, 0].map(() => ({ connections: 1, execs: 1 })),
        "one connection and one exec per node",
      );
    },
  );

  t.test("status --json matches what the nodes record", async (t) => {
    const r = await picotrader(lab, ["status", "-f", file, "--json"]);
    t.equal(r.exitCode, 0, r.stderr);
    const status = JSON.parse(r.stdout) as {
      nodes: {
        node: string;
        generation: number;
        pending: number;
        conditions: { type: string; status: string }[];
      }[];
    };
    for (const n of status.nodes) {
      const recorded = JSON.parse(
        (await sshAdmin(lab, n.node, "cat /var/lib/picotrader/state.json")).stdout,
      ) as { generation: number; result: string };
      t.equal(recorded.result, "converged", `${n.node} recorded its result`);
      t.equal(n.generation, recorded.generation);
      t.equal(n.pending, 0);
      t.strictSame(
        n.conditions.map((c) => `${c.type}=${c.status}`),
        ["Reachable=True", "Converged=True", "Applied=True"],
        n.node,
      );
    }
  });

  t.test("a reboot keeps the persisted setting", async (t) => {
    await sshAdmin(lab, "node2", "systemctl reboot");
    let r = await sshAdmin(lab, "node2", "sysctl -n net.ipv4.ip_forward");
    for (let i = 0; i < 60 && r.exitCode !== 0; i++) {
      await new Promise((res) => setTimeout(res, 500));
      r = await sshAdmin(
        lab,
        "node2",
        "systemctl is-system-running --wait >/dev/null; sysctl -n net.ipv4.ip_forward",
      );
    }
    t.equal(r.stdout.trim(), "1");
    t.equal((await dryRun()).exitCode, 0);
  });

  t.test("drift made by hand is found exactly, then repaired", async (t) => {
    await sshAdmin(lab, "node1", "hostname intruder");
    await sshAdmin(lab, "node2", "sed -i 's/^10.88.0.13\\t.*/10.88.0.99\\tnode3/' /etc/hosts");
    await sshAdmin(lab, "node3", "sysctl -q -w net.ipv4.ip_forward=0");
    const { exitCode, report } = await dryRun();
    t.equal(exitCode, 2);
    const changes = report.plan.nodes.map((n) => n.changes.map((c) => `${c.concern}: ${c.summary}`));
    t.strictSame(changes, [
      ["hostname: hostname node1/intruder -> node1"],
      ["hosts: /etc/hosts: 2 addresses to change"],
      ["ip-forward: net.ipv4.ip_forward 0 -> 1"],
    ]);
    t.strictSame(report.plan.nodes[1]?.changes[0]?.diff, [
      { kind: "D", path: ["10.88.0.99"], lhs: "node3" },
      { kind: "N", path: ["10.88.0.13"], rhs: "node3" },
    ]);
    const unapproved = await picotrader(lab, ["reconcile", "-f", file]);
    t.equal(unapproved.exitCode, 1, "no terminal and no --yes: refused");
    t.match(
      unapproved.stdout,
      /Plan: 0 to create, 3 to change, 0 to remove, 0 reboots, 0 rebuilds on 3 nodes/,
      "the plan is shown",
    );
    t.match(
      unapproved.stderr,
      /3 changes on 3 nodes not approved \(answer y on a terminal, or pass --yes\): nothing was applied/,
    );
    t.equal((await sshAdmin(lab, "node1", "hostname")).stdout.trim(), "intruder", "node1 untouched");
    t.equal(
      (await sshAdmin(lab, "node3", "sysctl -n net.ipv4.ip_forward")).stdout.trim(),
      "0",
      "node3 untouched",
    );
    const fix = await picotrader(lab, ["reconcile", "-f", file, "--yes"]);
    t.equal(fix.exitCode, 0, fix.stdout + fix.stderr);
    t.equal((await sshAdmin(lab, "node1", "hostname")).stdout.trim(), "node1", "node1: the kernel hostname");
    t.equal(
      (await sshAdmin(lab, "node2", "grep -E '^10\\.88\\.0\\.(13|99)\\s' /etc/hosts")).stdout.trim(),
      "10.88.0.13\tnode3",
      "node2: /etc/hosts has node3 at its address again, and no 10.88.0.99",
    );
    t.equal(
      (await sshAdmin(lab, "node3", "sysctl -n net.ipv4.ip_forward")).stdout.trim(),
      "1",
      "node3: forwarding is on at runtime",
    );
    t.equal((await dryRun()).exitCode, 0, "converged again");
  });

  t.test("a saved plan: applied as reviewed, and refused as stale once a fact changed", async (t) => {
    const dir = tempDir(t, "saved");
    const planFile = join(dir, "plan.json");
    await sshAdmin(lab, "node2", "hostname saved-drift");
    const saved = await picotrader(lab, ["reconcile", "-f", file, "--dry-run", "--out", planFile]);
    t.equal(saved.exitCode, 0, saved.stderr);
    t.match(saved.stdout, `Saved the plan to ${planFile}: picotrader apply ${planFile}`);
    t.equal((statSync(planFile).mode & 0o777).toString(8), "600", "the saved plan is the operator's alone");
    const report = JSON.parse(readFileSync(planFile, "utf8")) as ReconcileReport;
    t.match(report.plan.manifestDigest, /^[0-9a-f]{64}$/);
    t.match(
      report.plan.nodes[1]?.facts?.hostname,
      /^[0-9a-f]{64}$/,
      "per node, per concern, the facts' digest",
    );
    t.strictSame(
      report.plan.nodes.map((n) => n.changes.map((c) => `${c.concern}: ${c.summary}`)),
      [[], ["hostname: hostname node2/saved-drift -> node2"], []],
    );
    const applied = await picotrader(lab, ["apply", planFile]);
    t.equal(applied.exitCode, 0, applied.stdout + applied.stderr);
    t.match(applied.stdout, /node2: converged \(1 change applied\)/);
    t.equal((await sshAdmin(lab, "node2", "hostname")).stdout.trim(), "node2", "applied on the node");
    t.equal((await dryRun()).exitCode, 0, "the second plan is empty");

    await sshAdmin(lab, "node3", "hostname stale-1");
    const second = join(dir, "second.json");
    t.equal((await picotrader(lab, ["reconcile", "-f", file, "--dry-run", "--out", second])).exitCode, 0);
    await sshAdmin(lab, "node3", "hostname stale-2");
    const stale = await picotrader(lab, ["apply", second]);
    t.equal(stale.exitCode, 1, "a stale plan is refused");
    t.match(
      stale.stderr,
      /the saved plan is stale, nothing was applied:\n {2}node3: the facts of hostname changed since the plan was made/,
    );
    t.equal((await sshAdmin(lab, "node3", "hostname")).stdout.trim(), "stale-2", "node3 untouched");
    const manifestChanged = await picotrader(lab, ["apply", join(dir, "plan.json")]);
    t.equal(manifestChanged.exitCode, 1, "an old plan whose facts have moved on is refused too");
    await picotrader(lab, ["reconcile", "-f", file, "--yes"]);
  });

  t.test("a node that is down makes the run exit 1 naming it; the others converge", async (t) => {
    await labStop(NAME, "node3");
    t.teardown(() => labStart(NAME, "node3"));
    await sshAdmin(lab, "node1", "hostname drifted");
    const r = await picotrader(lab, ["reconcile", "-f", file, "--yes"]);
    t.equal(r.exitCode, 1);
    t.match(
      r.stdout,
      /node3 \(10\.88\.0\.13\): unreachable\n {2}! node3: cannot connect to 10\.88\.0\.13:22/,
    );
    t.match(r.stdout, /node1: converged \(1 change applied\)/);
    t.match(r.stdout, /Apply failed on: node3\./);
    t.equal((await sshAdmin(lab, "node1", "hostname")).stdout.trim(), "node1");
  });
}
