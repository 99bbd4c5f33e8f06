// An arm64 node under qemu-user emulation, as the boards are arm64: the access and network concerns
// converge on it, the second plan is empty, and drift made by hand is found and repaired.
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { labManifest } from "../../src/lab/lab.js";
import { picotrader, sshAdmin, sshNode, useLab } from "../helpers/lab.js";
import { tempDir } from "../helpers/temp.js";

const NAME = "tarm";
const lab = await useLab(t, NAME, 1, { arch: "arm64" });

if (lab) {
  const file = join(tempDir(t, "arm64"), "lab.yaml");
  writeFileSync(file, labManifest(lab, { runtime: false }));
  const dryRun = (args: string[] = []) =>
    picotrader(lab, ["reconcile", "-f", file, "--dry-run", "--detailed-exitcode", ...args]);

  t.test("the node is an aarch64 machine, its programs emulated through binfmt_misc", async (t) => {
    const r = await sshNode(lab, "node1", "uname -m; dpkg --print-architecture");
    t.strictSame(r.stdout.trim().split("\n"), ["aarch64", "arm64"], r.stderr);
    t.ok(existsSync("/proc/sys/fs/binfmt_misc/qemu-aarch64"), "qemu-aarch64 is registered");
  });

  t.test("the access and network concerns converge, and the second plan is empty", async (t) => {
    const r = await picotrader(lab, ["reconcile", "-f", file, "--yes"]);
    t.equal(r.exitCode, 0, `${r.stderr}\n${r.stdout.slice(-3000)}`);
    const second = await dryRun();
    t.equal(second.exitCode, 0, `${second.stderr}\n${second.stdout.slice(-2000)}`);
  });

  t.test("drift made by hand is found and repaired", async (t) => {
    const made = await sshAdmin(lab, "node1", "ufw allow 8080/tcp && sysctl -qw net.ipv4.ip_forward=0");
    t.equal(made.exitCode, 0, made.stderr);
    t.equal((await dryRun()).exitCode, 2, "drift is pending");
    const repaired = await picotrader(lab, ["reconcile", "-f", file, "--yes"]);
    t.equal(repaired.exitCode, 0, repaired.stderr);
    const read = await sshAdmin(lab, "node1", "ufw status | grep -c 8080; sysctl -n net.ipv4.ip_forward");
    t.strictSame(read.stdout.trim().split("\n"), ["0", "1"]);
  });
}
