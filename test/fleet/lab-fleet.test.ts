// Fleet commands and the root password on real lab nodes: exec with output per node, a rolling
// reboot after which every node is back, a node that is down named while the others are done,
// a shutdown, and root's password set, found changed by hand and repaired, never printed.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { labManifest, labStart, labStatus, labStop } from "../../src/lab/lab.js";
import type { ReconcileReport } from "../../src/report/json.js";
import { bootMark as labBootMark, inLab, picotrader, sshAdmin, useLab } from "../helpers/lab.js";
import { packageRoot } from "../../src/paths.js";
import { run } from "../../src/util/run.js";
import { tempDir } from "../helpers/temp.js";

const NAME = "tfleet";
const lab = await useLab(t, NAME, 3);

if (lab) {
  const file = join(tempDir(t, "test"), "lab.yaml");
  const hashed = await inLab(
    lab,
    ["node", join(packageRoot(), "dist", "bin", "picotrader.js"), "hash-password"],
    "lab-root-pw\n",
  );
  const hash = hashed.stdout.trim();
  writeFileSync(
    file,
    labManifest(lab, { runtime: false }).replace(
      "nodes:",
      `rootPassword:\n  hash: "${hash}"\nupdates:\n  policy: all\n  reboot: when-required\nnodes:`,
    ),
  );
  const bootMark = (node: string) => labBootMark(lab, node);

  t.test("hash-password makes a sha512-crypt hash; the nodes converge with it", async (t) => {
    t.equal(hashed.exitCode, 0, hashed.stderr);
    t.match(hash, /^\$6\$[./A-Za-z0-9]+\$[./A-Za-z0-9]{86}$/);
    const r = await picotrader(lab, ["reconcile", "-f", file, "--yes"]);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(
      r.stdout,
      /root-password: set root's password \(hash sha256:[0-9a-f]{12} -> sha256:[0-9a-f]{12}\)/,
    );
    t.notOk((r.stdout + r.stderr).includes(hash), "the hash is not in the output");
    const shadow = await sshAdmin(lab, "node1", "getent shadow root | cut -d: -f2");
    t.equal(shadow.stdout.trim(), hash, "root's hash in /etc/shadow is the manifest's");
    const again = await picotrader(lab, [
      "reconcile",
      "-f",
      file,
      "--dry-run",
      "--detailed-exitcode",
      "--json",
    ]);
    t.equal(again.exitCode, 0, "the second run plans nothing");
    t.notOk(again.stdout.includes(hash));
  });

  t.test("root's password changed by hand: drift found and repaired; the hash never printed", async (t) => {
    await sshAdmin(lab, "node2", "echo 'root:by-hand' | chpasswd");
    const drift = await picotrader(lab, [
      "reconcile",
      "-f",
      file,
      "--dry-run",
      "--detailed-exitcode",
      "--json",
    ]);
    t.equal(drift.exitCode, 2);
    const report = JSON.parse(drift.stdout) as ReconcileReport;
    t.strictSame(
      report.plan.nodes[1]?.changes.map((c) => c.concern),
      ["root-password"],
    );
    const facts = await picotrader(lab, ["facts", "-f", file, "node2"]);
    for (const out of [drift.stdout, facts.stdout])
      t.notOk(out.includes("$6$"), "no crypt hash in plan or facts");
    const fixed = await picotrader(lab, ["reconcile", "-f", file, "--json", "--yes"]);
    t.equal(fixed.exitCode, 0, fixed.stderr);
    t.notOk(fixed.stdout.includes(hash), "the JSON of an apply redacts the hash too");
    t.match(fixed.stdout, /\(sensitive: \d+ bytes\)/);
    t.equal((await sshAdmin(lab, "node2", "getent shadow root | cut -d: -f2")).stdout.trim(), hash);
  });

  t.test(
    "updates: nothing left after the converge; a reboot the node asks for is done, and only there",
    async (t) => {
      const first = await picotrader(lab, ["reconcile", "-f", file, "--dry-run", "--detailed-exitcode"]);
      t.equal(first.exitCode, 0, "the converge already refreshed the index and upgraded: nothing left");
      await sshAdmin(lab, "node2", "touch /var/run/reboot-required");
      const before = await Promise.all(["node1", "node2", "node3"].map(bootMark));
      const drift = await picotrader(lab, ["reconcile", "-f", file, "--dry-run", "--detailed-exitcode"]);
      t.equal(drift.exitCode, 2);
      t.match(drift.stdout, /updates: reboot: the node says earlier upgrades require it \[risk: reboot\]/);
      const r = await picotrader(lab, ["reconcile", "-f", file, "--yes"]);
      t.equal(r.exitCode, 0, r.stderr);
      const after = await Promise.all(["node1", "node2", "node3"].map(bootMark));
      t.not(after[1], before[1], "node2 rebooted");
      t.strictSame([after[0], after[2]], [before[0], before[2]], "the others did not");
      t.equal(
        (await picotrader(lab, ["reconcile", "-f", file, "--dry-run", "--detailed-exitcode"])).exitCode,
        0,
      );
    },
  );

  t.test("exec runs a command on every node, output per node, exit code per node", async (t) => {
    const r = await picotrader(lab, ["exec", "-f", file, "--", "hostname"]);
    t.equal(r.exitCode, 0, r.stderr);
    t.equal(r.stdout, "== node1 (exit 0)\nnode1\n== node2 (exit 0)\nnode2\n== node3 (exit 0)\nnode3\n");
    const failing = await picotrader(lab, [
      "exec",
      "-f",
      file,
      "--json",
      "--",
      'test "$(hostname)" != node2',
    ]);
    t.equal(failing.exitCode, 1, "a node whose command fails makes exit 1");
    t.strictSame(
      (JSON.parse(failing.stdout) as { node: string; exitCode: number }[]).map((o) => [o.node, o.exitCode]),
      [
        ["node1", 0],
        ["node2", 1],
        ["node3", 0],
      ],
    );
  });

  t.test("reboot --yes: one node at a time, each back (a new boot) before the next", async (t) => {
    const before = await Promise.all(["node1", "node2", "node3"].map(bootMark));
    const refused = await picotrader(lab, ["reboot", "-f", file]);
    t.equal(refused.exitCode, 1, "without --yes and without a terminal: refused");
    t.match(refused.stderr, /not confirmed/);
    t.strictSame(await Promise.all(["node1", "node2", "node3"].map(bootMark)), before, "nothing rebooted");
    const r = await picotrader(lab, ["reboot", "-f", file, "--yes", "--timeout", "120"]);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(
      r.stdout,
      /^node1: back after [\d.]+ s\nnode2: back after [\d.]+ s\nnode3: back after [\d.]+ s\n$/,
    );
    t.comment(r.stdout.trim().replace(/\n/g, "; "));
    const after = await Promise.all(["node1", "node2", "node3"].map(bootMark));
    after.forEach((mark, i) => t.not(mark, before[i], `node${i + 1} booted anew`));
    // When each new boot began, on the clock the nodes share (one kernel: PID 1's start time in
    // clock ticks since the host booted): one at a time means each began well after the one before.
    const started = await Promise.all(
      ["node1", "node2", "node3"].map(async (n) =>
        Number((await sshAdmin(lab, n, "cut -d' ' -f22 /proc/1/stat")).stdout.trim()),
      ),
    );
    const ticks = Number((await run("getconf", ["CLK_TCK"])).stdout.trim());
    const gaps = [started[1]! - started[0]!, started[2]! - started[1]!].map((d) => d / ticks);
    t.comment(`new boots began ${gaps.map((g) => g.toFixed(1)).join(" s and ")} s apart`);
    t.ok(
      gaps.every((g) => g >= 1),
      `each node's new boot began at least 1 s after the previous one's (a boot takes about 3.5 s here): ${gaps.join(", ")}`,
    );
    const converged = await picotrader(lab, ["reconcile", "-f", file, "--dry-run", "--detailed-exitcode"]);
    t.equal(converged.exitCode, 0, "after the reboot the nodes are still converged (persisted settings)");
  });

  t.test("a node that is down is named; the others are done", async (t) => {
    await labStop(NAME, "node3");
    const exec = await picotrader(lab, ["exec", "-f", file, "--", "true"]);
    t.equal(exec.exitCode, 1);
    t.match(exec.stdout, /== node3: unreachable: /);
    t.match(exec.stdout, /== node1 \(exit 0\)\n== node2 \(exit 0\)\n/);
    const before = await bootMark("node1");
    const r = await picotrader(lab, [
      "reboot",
      "-f",
      file,
      "--yes",
      "--only",
      "node3,node1",
      "--timeout",
      "120",
    ]);
    t.equal(r.exitCode, 1);
    t.match(r.stdout, /node1: back after/);
    t.match(r.stdout, /node3: FAILED: unreachable, left alone/);
    t.not(await bootMark("node1"), before, "node1 was rebooted anyway");
    await labStart(NAME, "node3");
  });

  t.test("shutdown --yes powers a node off and it stays off", async (t) => {
    const r = await picotrader(lab, ["shutdown", "-f", file, "--yes", "--only", "node2", "--timeout", "60"]);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, /^node2: off after [\d.]+ s\n$/);
    await new Promise((r) => setTimeout(r, 3000));
    const { nodes } = await labStatus(NAME);
    t.strictSame(
      nodes.map((n) => [n.name, n.state, n.ssh]),
      [
        ["node1", "running", true],
        ["node2", "off", false],
        ["node3", "running", true],
      ],
      "the lab's supervisor says node2 is off (no container, no SSH) 3 s later; the others run",
    );
    await labStart(NAME, "node2");
    t.equal((await sshAdmin(lab, "node2", "hostname")).stdout.trim(), "node2", "and starts again");
  });
}
