// The GitOps controller on real lab nodes: a bare repository on this machine is the remote; the
// controller watches its clone, applies new commits within an interval, refuses an invalid
// manifest, repairs drift, honours suspend, and finishes its run on SIGTERM.
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { labManifest, labRunArgv } from "../../src/lab/lab.js";
import { packageRoot } from "../../src/paths.js";
import { run } from "../../src/util/run.js";
import { eventually, sleep, sshAdmin, useLab } from "../helpers/lab.js";
import { tempDir } from "../helpers/temp.js";

const NAME = "twatch";
const lab = await useLab(t, NAME, 2);
if (lab) {
  const dir = tempDir(t, "watch");
  const git = async (cwd: string, ...args: string[]) => {
    const r = await run(
      "git",
      [
        "-c",
        "user.name=Test",
        "-c",
        "user.email=test@example.invalid",
        "-c",
        "init.defaultBranch=main",
        ...args,
      ],
      { cwd },
    );
    if (r.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const remote = join(dir, "remote.git");
  const work = join(dir, "work");
  const ctl = join(dir, "ctl");
  await git(dir, "init", "--bare", "-q", remote);
  await git(dir, "clone", "-q", remote, work);
  const base = labManifest(lab, { runtime: false });
  const commit = async (text: string, message: string) => {
    writeFileSync(join(work, "cluster.yaml"), text);
    await git(work, "add", "cluster.yaml");
    await git(work, "commit", "-q", "-m", message);
    await git(work, "push", "-q", "origin", "HEAD:main");
    return git(work, "rev-parse", "HEAD");
  };
  const first = await commit(base, "the lab");
  await git(dir, "clone", "-q", remote, ctl);

  let log = "";
  const [cmd, ...args] = labRunArgv(lab, [
    "node",
    join(packageRoot(), "dist", "bin", "picotrader.js"),
    "watch",
    "-f",
    join(ctl, "cluster.yaml"),
    "--interval",
    "3s",
  ]);
  const controller: ChildProcess = spawn(cmd as string, args, { stdio: ["ignore", "pipe", "pipe"] });
  controller.stdout?.on("data", (d: Buffer) => (log += String(d)));
  controller.stderr?.on("data", (d: Buffer) => (log += String(d)));
  const exited = new Promise<number | null>((resolve) => controller.on("exit", (code) => resolve(code)));
  t.teardown(() => {
    if (controller.exitCode === null) controller.kill("SIGKILL");
  });
  const recorded = async (node: string) => {
    const r = await sshAdmin(lab, node, "cat /var/lib/picotrader/state.json");
    return r.exitCode === 0 ? (JSON.parse(r.stdout) as { commit?: string; result: string }) : undefined;
  };

  t.test("the controller converges the lab and records the commit on each node", async (t) => {
    const rec = await eventually(
      () => recorded("node2"),
      (r) => r?.commit === first && r.result === "converged",
      90_000,
    );
    t.equal(rec?.commit, first, log);
    // The nodes record in parallel: node1 may finish a moment after node2.
    const rec1 = await eventually(
      () => recorded("node1"),
      (r) => r?.commit === first,
      30_000,
    );
    t.equal(rec1?.commit, first);
  });

  t.test("uncommitted edits are pending, said once, and not applied", async (t) => {
    const seen = log.length;
    writeFileSync(
      join(ctl, "cluster.yaml"),
      base.replace("    address: 10.88.0.11\n", "    address: 10.88.0.11\n    hostname: dirty1\n"),
    );
    await eventually(
      async () => log.slice(seen),
      (l) => /uncommitted edits in .*cluster\.yaml are pending, not applied/.test(l),
      20_000,
    );
    // Three intervals at least: the notice is not repeated, and node1 keeps the committed state.
    await sleep(10_000);
    const notices = log.slice(seen).match(/uncommitted edits in .* are pending/g) ?? [];
    t.equal(notices.length, 1, "the pending edit is said once");
    t.match(log.slice(seen), /reconciling \(interval\) at [0-9a-f]{40}/, "runs go on at the commit");
    t.equal((await sshAdmin(lab, "node1", "hostname")).stdout.trim(), "node1", "the edit was not applied");
    t.equal((await recorded("node1"))?.commit, first, "node1 records the commit, not +dirty");
    await git(ctl, "checkout", "--", "cluster.yaml");
  });

  t.test("a commit that renames node1 is applied within an interval and recorded", async (t) => {
    const renamed = await commit(
      base.replace("    address: 10.88.0.11\n", "    address: 10.88.0.11\n    hostname: renamed1\n"),
      "rename node1",
    );
    const pushedAt = Date.now();
    const rec = await eventually(
      () => recorded("node1"),
      (r) => r?.commit === renamed,
      60_000,
    );
    t.equal(rec?.commit, renamed, log);
    t.comment(`applied ${((Date.now() - pushedAt) / 1000).toFixed(1)} s after the push (interval 3 s)`);
    t.equal((await sshAdmin(lab, "node1", "hostname")).stdout.trim(), "renamed1");
  });

  t.test("an invalid manifest is refused; the previous commit stays applied", async (t) => {
    const before = (await recorded("node1"))?.commit;
    await commit(base.replace("apiVersion: picotrader/v1", "apiVersion: picotrader/v2"), "broken");
    await eventually(
      async () => log,
      (l) => /invalid manifest, not applied \(keeping [0-9a-f]{40}\)/.test(l),
      30_000,
    );
    t.match(
      log,
      /invalid manifest, not applied \(keeping [0-9a-f]{40}\):\n.*cluster\.yaml:\d+:\d+: error: apiVersion: must be "picotrader\/v1"/,
    );
    await sleep(7000);
    t.equal((await recorded("node1"))?.commit, before, "the nodes still record the last good commit");
    t.equal(
      (log.match(/invalid manifest, not applied/g) ?? []).length,
      1,
      "an invalid manifest is said once, not on every interval",
    );
  });

  t.test("drift made by hand is repaired within an interval", async (t) => {
    const fixed = await commit(
      base.replace("    address: 10.88.0.11\n", "    address: 10.88.0.11\n    hostname: renamed1\n"),
      "fixed",
    );
    // The commit's own run first: the repair below must come from an interval, not from it.
    await eventually(
      () => recorded("node2"),
      (r) => r?.commit === fixed,
      60_000,
    );
    t.equal((await recorded("node2"))?.commit, fixed, "the commit was applied before the drift");
    await sleep(1000);
    await sshAdmin(lab, "node2", "sysctl -q -w net.ipv4.ip_forward=0");
    const value = await eventually(
      async () => (await sshAdmin(lab, "node2", "sysctl -n net.ipv4.ip_forward")).stdout.trim(),
      (v) => v === "1",
      30_000,
    );
    t.equal(value, "1");
  });

  t.test("ticks reuse each node's SSH session: no new login between intervals", async (t) => {
    // sshd forks one process per connection ("sshd: sysman [priv]"): the same ones across ticks.
    const sessions = async () =>
      (await sshAdmin(lab, "node2", "pgrep -f 'sshd: sysman \\[priv\\]' | sort")).stdout.trim().split("\n");
    const seen = log.length;
    await eventually(
      async () => log.slice(seen),
      (l) => (l.match(/change\(s\) planned/g) ?? []).length >= 1,
      20_000,
    );
    const before = await sessions();
    const mark = log.length;
    await eventually(
      async () => log.slice(mark),
      (l) => (l.match(/change\(s\) planned/g) ?? []).length >= 2,
      20_000,
    );
    const after = await sessions();
    // Our own check logs in too: the controller's session is the one in both lists.
    const kept = before.filter((pid) => after.includes(pid));
    const all = (await sshAdmin(lab, "node2", "ps -eo pid,args | grep [s]shd")).stdout;
    t.notMatch(all, /sshd: root@/, "no root session is kept once root login is off");
    t.ok(
      kept.length >= 1,
      `the controller's session lived through two ticks (${before.join(",")} / ${after.join(",")})\n${all}`,
    );
    // How long a drift tick takes on converged nodes, from the controller's own timestamps.
    const ticks = [
      ...log.slice(mark).matchAll(/^(\S+) reconciling \(interval\)[^\n]*\n(\S+) 0 change\(s\) planned/gm),
    ].map((m) => Date.parse(m[2] ?? "") - Date.parse(m[1] ?? ""));
    t.ok(ticks.length >= 1, `drift ticks on 2 converged nodes: ${ticks.join(", ")} ms`);
    // The probes' root shell: one sudo, kept while nothing but probes runs through the session (a
    // change's commands end it), so the same one through converged ticks.
    const shells = async () =>
      (await sshAdmin(lab, "node2", "pgrep -fx 'sudo -n sh -s' | sort")).stdout.trim().split("\n");
    const shellsBefore = await shells();
    const converged = log.length;
    await eventually(
      async () => log.slice(converged),
      (l) => (l.match(/ 0 change\(s\) planned/g) ?? []).length >= 2,
      20_000,
    );
    const shellsAfter = await shells();
    t.ok(
      shellsBefore[0] !== "" && shellsBefore.some((pid) => shellsAfter.includes(pid)),
      `the probes ran in one root shell through two ticks, not a sudo each (${shellsBefore.join(",")} / ${shellsAfter.join(",")})`,
    );
  });

  t.test("suspend stops applying but keeps reporting", async (t) => {
    await commit(
      base
        .replace("apiVersion: picotrader/v1\n", "apiVersion: picotrader/v1\nsuspend: true\n")
        .replace("    address: 10.88.0.11\n", "    address: 10.88.0.11\n    hostname: renamed1\n"),
      "suspend",
    );
    const seenBefore = log.length;
    await eventually(
      async () => log.slice(seenBefore),
      (l) => /\(suspended\)/.test(l),
      20_000,
    );
    t.match(log.slice(seenBefore), /\(suspended\)/, "the controller knows the cluster is suspended");
    await sleep(4000);
    await sshAdmin(lab, "node2", "hostname by-hand");
    const seen = log.length;
    await eventually(
      async () => log.slice(seen),
      (l) => /node2: pending/.test(l),
      30_000,
    );
    t.match(log.slice(seen), /node2: pending/, "the drift is reported");
    t.equal((await sshAdmin(lab, "node2", "hostname")).stdout.trim(), "by-hand", "and not repaired");
  });

  t.test("SIGTERM finishes the run in flight and exits cleanly", async (t) => {
    // Unsuspended, with a package to install: the run that follows holds the nodes' locks for seconds.
    await commit(
      base
        .replace("    address: 10.88.0.11\n", "    address: 10.88.0.11\n    hostname: renamed1\n")
        .replace("nodes:\n", "packages:\n  install: [tftpd-hpa]\nnodes:\n"),
      "install tftpd-hpa",
    );
    const holder = await eventually(
      async () =>
        (
          await sshAdmin(lab, "node2", "cat /run/picotrader/lock/holder 2>/dev/null || echo free")
        ).stdout.trim(),
      (v) => v !== "free",
      60_000,
    );
    t.match(
      holder,
      /^picotrader on \S+ pid \d+ since /,
      "a run holds node2's lock when SIGTERM comes: it is in flight",
    );
    controller.kill("SIGTERM");
    const code = await Promise.race([exited, sleep(120_000).then(() => "timeout")]);
    t.equal(code, 0, log.slice(-2000));
    t.match(log, /SIGTERM: finishing the run in flight, then exiting[\s\S]*stopped/);
    for (const n of lab.nodes) {
      t.equal(
        (
          await sshAdmin(lab, n.name, "test -e /run/picotrader/lock && echo locked || echo free")
        ).stdout.trim(),
        "free",
        `${n.name}: no lock left`,
      );
    }
    t.match(
      (await sshAdmin(lab, "node2", "dpkg-query -W -f '${Status}' tftpd-hpa")).stdout,
      /install ok installed/,
      "the run in flight finished its work on node2",
    );
    t.equal((await sshAdmin(lab, "node2", "hostname")).stdout.trim(), "node2", "and repaired the hostname");
    const untimed = log
      .split("\n")
      .filter((l) => l !== "" && !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /.test(l));
    t.same(untimed, [], "every log line starts with a timestamp");
  });
}
