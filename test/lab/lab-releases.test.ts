// The whole lab manifest on a mixed lab: a Debian 12 node and two Debian 11 nodes (bullseye: OpenSSH
// 8.4, systemd 247, haproxy 2.2, keepalived 2.1, close to the boards' Ubuntu 20.04). It converges,
// the second plan is empty, and drift made by hand on the older nodes is found and repaired.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { labManifest, labStatus, writeLabTftpStandIns } from "../../src/lab/lab.js";
import type { ReconcileReport } from "../../src/report/json.js";
import { picotrader, sshAdmin, sshNode, useLab } from "../helpers/lab.js";
import { tempDir } from "../helpers/temp.js";

const NAME = "trel";
const lab = await useLab(t, NAME, 3, { releases: ["bookworm", "bullseye", "bullseye"] });

if (lab) {
  const folder = tempDir(t, "releases");
  const file = join(folder, "lab.yaml");
  writeFileSync(file, labManifest(lab));
  writeLabTftpStandIns(folder);
  const dryRun = async () => {
    const r = await picotrader(lab, ["reconcile", "-f", file, "--dry-run", "--detailed-exitcode", "--json"]);
    return { exitCode: r.exitCode, report: JSON.parse(r.stdout) as ReconcileReport, stderr: r.stderr };
  };

  t.test("each node runs its release, and lab status names it", async (t) => {
    const versions = [];
    for (const node of lab.nodes)
      versions.push((await sshNode(lab, node.name, "cut -d. -f1 /etc/debian_version")).stdout.trim());
    t.strictSame(versions, ["12", "11", "11"]);
    t.strictSame(
      (await labStatus(NAME)).nodes.map((n) => n.release),
      ["bookworm", "bullseye", "bullseye"],
    );
  });

  t.test("the whole lab manifest converges, and the second plan is empty", async (t) => {
    const r = await picotrader(lab, ["reconcile", "-f", file, "--yes"]);
    t.equal(r.exitCode, 0, `${r.stderr}\n${r.stdout.slice(-4000)}`);
    const second = await dryRun();
    t.equal(second.exitCode, 0, second.stderr);
    t.strictSame(
      second.report.plan.nodes.map((n) => [n.node, n.state, n.changes.map((c) => c.summary)]),
      lab.nodes.map((n) => [n.name, "converged", []]),
    );
  });

  t.test("drift made by hand on a bullseye node is found and repaired", async (t) => {
    const hand = [
      "sed -i 's/^PermitRootLogin no/PermitRootLogin yes/' /etc/ssh/sshd_config.d/00-picotrader.conf",
      "systemctl reload ssh",
      "ufw allow 8080/tcp",
      "sysctl -qw net.ipv4.ip_forward=0",
      "systemctl stop haproxy",
      "echo '10.9.9.9 intruder' >> /etc/hosts",
    ].join(" && ");
    const made = await sshAdmin(lab, "node2", hand);
    t.equal(made.exitCode, 0, made.stderr);
    const found = await dryRun();
    t.equal(found.exitCode, 2, "drift is pending");
    const node2 = found.report.plan.nodes.find((n) => n.node === "node2");
    t.strictSame([...new Set(node2?.changes.map((c) => c.concern))].sort(), [
      "firewall",
      "haproxy",
      "hosts",
      "ip-forward",
      "sshd",
    ]);
    const repaired = await picotrader(lab, ["reconcile", "-f", file, "--yes"]);
    t.equal(repaired.exitCode, 0, repaired.stderr);
    const read = await sshAdmin(
      lab,
      "node2",
      "sshd -T | grep -i '^permitrootlogin'; ufw status | grep -c 8080; sysctl -n net.ipv4.ip_forward; systemctl is-active haproxy; grep -c intruder /etc/hosts",
    );
    t.strictSame(read.stdout.trim().split("\n"), ["permitrootlogin no", "0", "1", "active", "0"]);
    t.equal((await dryRun()).exitCode, 0, "and the plan is empty again");
  });
}
