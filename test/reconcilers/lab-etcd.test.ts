// The etcd cluster on real lab nodes: bootstrapped with TLS from factory-fresh nodes (the first
// member alone, the others joining it one at a time), the second
// plan empty, drift made by hand (config edited, a member stopped) found and repaired, and a member
// replaced and then put back (one removed, another joined as a learner and promoted) while a writer
// goes on writing through it all: no write refused, so quorum was kept throughout.
import { spawn } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { labSshArgv } from "../../src/lab/lab.js";
import type { ReconcileReport } from "../../src/report/json.js";
import { picotrader, sshAdmin, useLab } from "../helpers/lab.js";
import { tempDir } from "../helpers/temp.js";

const NAME = "tet";
const lab = await useLab(t, NAME, 4);

const ETCDCTL =
  "ETCDCTL_API=3 ETCDCTL_CACERT=/etc/etcd/pki/ca.crt ETCDCTL_CERT=/etc/etcd/pki/node.crt ETCDCTL_KEY=/etc/etcd/pki/node.key etcdctl --endpoints=https://127.0.0.1:2379";

if (lab) {
  const dir = tempDir(t, "etcd");
  const pki = join(dir, "pki");
  const file = join(dir, "lab.yaml");
  const made = await picotrader(lab, ["lab", "manifest", "--name", NAME, "-o", join(dir, "full.yaml")]);
  if (made.exitCode !== 0) throw new Error(`lab manifest: ${made.stderr}`);
  const full = readFileSync(join(dir, "full.yaml"), "utf8");
  /** The lab's manifest with the access concerns, etcd, and the etcd role on `members`. */
  const manifest = (members: string[]) => {
    const head = full.slice(0, full.indexOf("# The runtime"));
    const nodes = lab.nodes
      .map(
        (n) =>
          `  - name: ${n.name}\n    address: ${n.address}\n    roles: [${n.name === "node1" ? "control-plane" : "worker"}${members.includes(n.name) ? ", etcd" : ""}]`,
      )
      .join("\n");
    writeFileSync(file, `${head}etcd: {}\nnodes:\n${nodes}\n`);
  };
  const run = (...args: string[]) =>
    picotrader(lab, ["reconcile", "-f", file, ...args], { PICOTRADER_PKI: pki });
  const dryRun = async () => {
    const r = await run("--dry-run", "--detailed-exitcode", "--json");
    return { exitCode: r.exitCode, report: JSON.parse(r.stdout) as ReconcileReport };
  };
  const members = async (node: string) =>
    (await sshAdmin(lab, node, `${ETCDCTL} member list -w simple`)).stdout
      .trim()
      .split("\n")
      .map((l) => l.split(", "))
      .map((f) => `${f[2]}${f[5] === "true" ? " (learner)" : ""}`)
      .sort();
  const healthy = async (node: string) =>
    (await sshAdmin(lab, node, `${ETCDCTL} endpoint health --cluster 2>&1`)).stdout
      .split("\n")
      .filter((l) => / is healthy/.test(l)).length;

  /**
   * Writes a key through node1 every 200 ms until stopped, each write given 3 s; reports how many
   * were acknowledged and how many refused (a cluster without quorum refuses them).
   */
  const startWriter = () => {
    const loop = `rm -f /tmp/writer.stop; ok=0; failed=0; i=0
while [ ! -f /tmp/writer.stop ]; do
  i=$((i+1))
  if ${ETCDCTL} --command-timeout=3s put writer/$i $i >/dev/null 2>&1; then ok=$((ok+1)); else failed=$((failed+1)); fi
  sleep 0.2
done
echo "$ok $failed"`;
    const [cmd, ...args] = labSshArgv(
      lab,
      "node1",
      [`sudo -n sh -c '${loop.replace(/'/g, "'\\''")}'`],
      "sysman",
    );
    const child = spawn(cmd as string, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    return {
      stop: async () => {
        await sshAdmin(lab, "node1", "touch /tmp/writer.stop");
        await exited;
        const [ok = 0, failed = 0] = out.trim().split(" ").map(Number);
        return { ok, failed };
      },
    };
  };

  t.test("three factory nodes bootstrap a TLS etcd cluster; the second plan is empty", async (t) => {
    manifest(["node1", "node2", "node3"]);
    const r = await run("--yes");
    t.equal(r.exitCode, 0, r.stdout + r.stderr);
    t.match(r.stdout, /bootstrap the etcd cluster with member node1, which node2, node3 then join/);
    t.match(r.stdout, /join etcd member node3 to the cluster that node1 bootstraps in this run/);
    const again = await dryRun();
    t.equal(again.exitCode, 0, "the second run plans nothing");
    t.strictSame(await members("node2"), ["node1", "node2", "node3"]);
    t.equal(await healthy("node3"), 3, "every member answers its health check");
    // Clients need a certificate of the cluster's CA: a plain client is refused.
    const anonymous = await sshAdmin(
      lab,
      "node2",
      "ETCDCTL_API=3 etcdctl --endpoints=https://10.88.0.11:2379 --insecure-skip-tls-verify --command-timeout=3s get x 2>&1",
    );
    t.not(anonymous.exitCode, 0, "a client without a certificate is refused");
    const key = await sshAdmin(lab, "node1", "stat -c '%a %U' /etc/etcd/pki/node.key");
    t.equal(key.stdout.trim(), "600 etcd", "the node's key is 0600, the etcd user's");
    t.equal(statSync(join(pki, "ca.key")).mode & 0o777, 0o600, "the CA's key is 0600 on the controller");
    t.notMatch(r.stdout + r.stderr, /PRIVATE KEY/, "no key is printed");
  });

  t.test("drift made by hand (config edited, a member stopped) is found and repaired", async (t) => {
    await sshAdmin(
      lab,
      "node2",
      "sed -i 's/^ETCD_HEARTBEAT_INTERVAL=.*/ETCD_HEARTBEAT_INTERVAL=250/' /etc/default/etcd",
    );
    await sshAdmin(lab, "node3", "systemctl stop etcd");
    const drift = await dryRun();
    t.equal(drift.exitCode, 2, "the drift is pending");
    const summaries = drift.report.plan.nodes.flatMap((n) => n.changes.map((c) => `${n.node}: ${c.summary}`));
    t.match(summaries.join("\n"), /node2: rewrite \/etc\/default\/etcd; restart etcd member node2/);
    t.match(summaries.join("\n"), /node3: start etcd member node3/);
    const r = await run("--yes");
    t.equal(r.exitCode, 0, r.stdout + r.stderr);
    t.equal((await dryRun()).exitCode, 0, "repaired: nothing pending");
    t.match((await sshAdmin(lab, "node2", "cat /etc/default/etcd")).stdout, /ETCD_HEARTBEAT_INTERVAL=100/);
    t.equal(await healthy("node1"), 3);
  });

  t.test("a member replaced, then put back, with quorum kept throughout", async (t) => {
    const writer = startWriter();
    manifest(["node1", "node2", "node4"]);
    const out = await run("--yes");
    t.equal(out.exitCode, 0, out.stdout + out.stderr);
    t.match(out.stdout, /etcd: remove etcd member node3 \(not in the manifest\) from the cluster/);
    t.match(out.stdout, /join etcd member node4 to the cluster through node1/);
    t.strictSame(await members("node1"), ["node1", "node2", "node4"]);
    t.equal((await dryRun()).exitCode, 0, "the second run plans nothing");

    manifest(["node1", "node2", "node3"]);
    const back = await run("--yes");
    t.equal(back.exitCode, 0, back.stdout + back.stderr);
    t.match(
      back.stdout,
      /join etcd member node3 .*set aside the data of a member the cluster no longer lists/,
    );
    t.strictSame(await members("node2"), ["node1", "node2", "node3"]);
    t.equal((await dryRun()).exitCode, 0, "the second run plans nothing");
    const writes = await writer.stop();
    t.ok(writes.ok > 10, `the writer wrote (${writes.ok} acknowledged)`);
    t.equal(writes.failed, 0, "no write was refused while members changed");
    t.equal(await healthy("node1"), 3);
  });
}
