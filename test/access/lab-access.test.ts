// Access that can never lock us out, on real lab nodes: bootstrap of factory-fresh nodes with the
// root password, drift in keys, sshd and firewall, and fault injection that must end with the
// node reachable as the admin user and reported as rolled back.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { labManifest, labReset, labRunArgv, labStart, labStop } from "../../src/lab/lab.js";
import { packageRoot } from "../../src/paths.js";
import type { ReconcileReport } from "../../src/report/json.js";
import { run } from "../../src/util/run.js";
import { picotrader, sshAdmin, sshNode, useLab } from "../helpers/lab.js";

const NAME = "taccess";
const lab = await useLab(t, NAME, 3);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (lab) {
  const dir = mkdtempSync(join(tmpdir(), "picotrader-access-"));
  const base = labManifest(lab, { runtime: false });
  const manifest = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  const good = manifest("good.yaml", base);
  const dryRun = async (file: string, env: Record<string, string> = {}) => {
    const r = await picotrader(
      lab,
      ["reconcile", "-f", file, "--dry-run", "--detailed-exitcode", "--json"],
      env,
    );
    return { exitCode: r.exitCode, report: JSON.parse(r.stdout) as ReconcileReport };
  };
  /** Removes the lab key from root, so that only the factory password lets root in. */
  const factoryFresh = async (node: string) => {
    await labReset(NAME, node);
    await sshNode(lab, node, "rm /root/.ssh/authorized_keys");
  };
  const adminWorks = async (node: string) => (await sshAdmin(lab, node, "true")).exitCode === 0;

  t.test(
    "factory-fresh nodes converge with one reconcile, bootstrapped with the root password",
    async (t) => {
      for (const n of lab.nodes) await sshNode(lab, n.name, "rm /root/.ssh/authorized_keys");
      const r = await picotrader(lab, ["reconcile", "-f", good]);
      t.equal(r.exitCode, 0, r.stdout + r.stderr);
      t.match(r.stdout, /node1 \(10\.88\.0\.11\) as root \(password\): 10 changes/);
      t.notMatch(r.stdout + r.stderr, /odroid(?!64)/, "the bootstrap password is never printed");
      for (const n of lab.nodes) {
        t.not((await sshNode(lab, n.name, "true")).exitCode, 0, `${n.name}: root cannot log in`);
        const admin = await sshAdmin(lab, n.name, "id -un; ufw status | sed -n '1p;/ALLOW/p' | tr -s ' '");
        t.equal(admin.exitCode, 0, `${n.name}: sysman logs in with the key and has passwordless sudo`);
        const [who, status, ...rules] = admin.stdout.trim().split("\n");
        t.equal(who, "root");
        t.equal(status, "Status: active");
        const want =
          n.name === "node3"
            ? ["22/tcp", "10250/tcp", "30000:32767/tcp"]
            : ["22/tcp", "6443/tcp", "2379:2380/tcp", "10250/tcp", "10257/tcp", "10259/tcp"];
        t.same(
          rules.filter((l) => !l.includes("(v6)")).map((l) => l.split(" ")[0]),
          want,
          `${n.name}: exactly the declared rules`,
        );
      }
      const second = await dryRun(good);
      t.equal(second.exitCode, 0, "a second dry-run plans nothing");
    },
  );

  t.test("drift: a key added, PermitRootLogin yes, a port opened, each found and repaired", async (t) => {
    await sshAdmin(
      lab,
      "node1",
      "echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE1vY2tLZXlNb2NrS2V5TW9ja0tleU1vY2tLZXlNb2Nr intruder' >> /home/sysman/.ssh/authorized_keys",
    );
    await sshAdmin(
      lab,
      "node2",
      "sed -i 's/^PermitRootLogin no/PermitRootLogin yes/' /etc/ssh/sshd_config.d/00-picotrader.conf",
    );
    await sshAdmin(lab, "node3", "ufw allow 8080/tcp >/dev/null");
    const { exitCode, report } = await dryRun(good);
    t.equal(exitCode, 2);
    t.same(
      report.plan.nodes.map((n) => n.changes.map((c) => `${c.concern}: ${c.summary}`)),
      [
        ["ssh-keys: authorized_keys of sysman: 1 to remove"],
        ["sshd: PermitRootLogin yes -> no"],
        ["firewall: remove allow 8080/tcp"],
      ],
    );
    const fix = await picotrader(lab, ["reconcile", "-f", good]);
    t.equal(fix.exitCode, 0, fix.stdout + fix.stderr);
    t.equal((await dryRun(good)).exitCode, 0, "converged again");
  });

  t.test("a key that does not match: the proof fails and the change is rolled back", async (t) => {
    const other = join(dir, "other");
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "not-the-operator", "-f", other]);
    const wrongKey = base.replace(
      /( {2}sshKeys:\n {4}- ).*/,
      `$1${readFileSync(`${other}.pub`, "utf8").trim()}`,
    );
    const r = await picotrader(lab, [
      "reconcile",
      "-f",
      manifest("wrong-key.yaml", wrongKey),
      "--only",
      "node1",
    ]);
    t.equal(r.exitCode, 1);
    t.match(
      r.stdout,
      /node1: rolled-back[\s\S]*node1: access changes rolled back: a new login as sysman with the key failed/,
    );
    t.ok(await adminWorks("node1"), "sysman still logs in with the operator's key");
    t.equal((await dryRun(good)).exitCode, 0, "node1 is as it was");
  });

  t.test("an sshd setting that sshd -t refuses changes nothing", async (t) => {
    const bad = base.replace("nodes:\n", "ssh:\n  settings:\n    MaxAuthTries: lots\nnodes:\n");
    const r = await picotrader(lab, ["reconcile", "-f", manifest("bad-sshd.yaml", bad), "--only", "node2"]);
    t.equal(r.exitCode, 1);
    t.match(
      r.stdout,
      /node2: rolled-back[\s\S]*sshd: step failed \(exit 65\): write \/etc\/ssh\/sshd_config\.d\/00-picotrader\.conf/,
    );
    t.ok(await adminWorks("node2"));
    t.equal(
      (await sshAdmin(lab, "node2", "sshd -T | grep -i maxauthtries")).stdout.trim(),
      "maxauthtries 6",
      "the old config is in force",
    );
  });

  const noSsh = base.replace("nodes:\n", "firewall:\n  allow:\n    - { port: 6443 }\nnodes:\n");

  t.test("a manifest whose firewall has no SSH rule is refused before any connection", async (t) => {
    const r = await picotrader(lab, ["validate", "-f", manifest("no-ssh.yaml", noSsh)]);
    t.equal(r.exitCode, 1);
    t.match(
      r.stderr,
      /no-ssh\.yaml:\d+:\d+: firewall\.allow: no rule allows SSH \(22\/tcp\) on nodes\[0\] \(node1\): it would be cut off/,
    );
  });

  t.test("a firewall without SSH forced past that check: cut off, proven, rolled back", async (t) => {
    const r = await picotrader(lab, ["reconcile", "-f", manifest("no-ssh.yaml", noSsh), "--only", "node3"], {
      PICOTRADER_TEST_SKIP_ACCESS_RULES: "1",
    });
    t.equal(r.exitCode, 1);
    t.match(r.stdout, /node3: rolled-back[\s\S]*access changes rolled back/);
    t.ok(await adminWorks("node3"), "SSH is allowed again");
    t.equal((await dryRun(good)).exitCode, 0, "the firewall is as it was");
  });

  t.test("the controller killed during an access change: the dead-man timer restores access", async (t) => {
    const file = manifest("no-ssh.yaml", noSsh);
    const [cmd, ...args] = labRunArgv(lab, [
      "env",
      "PICOTRADER_TEST_SKIP_ACCESS_RULES=1",
      "PICOTRADER_TEST_HOLD_BEFORE_PROOF=1",
      "node",
      join(packageRoot(), "dist", "src", "cli.js"),
      "reconcile",
      "-f",
      file,
      "--only",
      "node2",
      "--deadman-seconds",
      "10",
    ]);
    const child = spawn(cmd as string, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    const holding = new Promise<void>((resolve) =>
      child.stderr.on(
        "data",
        (d: Buffer) => ((stderr += String(d)), stderr.includes("HOLDING") && resolve()),
      ),
    );
    await Promise.race([holding, sleep(60_000)]);
    t.match(stderr, /HOLDING node2/);
    const killedAt = Date.now();
    child.kill("SIGKILL");
    t.notOk(await adminWorks("node2"), "the change did cut SSH off");
    let restoredAfter: number | undefined;
    for (let i = 0; i < 90 && restoredAfter === undefined; i++) {
      await sleep(1000);
      if (await adminWorks("node2")) restoredAfter = Date.now() - killedAt;
    }
    t.ok(
      restoredAfter !== undefined,
      `access restored ${((restoredAfter ?? NaN) / 1000).toFixed(1)} s after the controller died (dead-man: 10 s)`,
    );
    t.comment(`dead-man restore: ${restoredAfter} ms after the kill`);
    t.equal((await dryRun(good)).exitCode, 0, "the node is as before, its lock released");
  });

  t.test(
    "wrong bootstrap password, changed host key, node down: each named; the others converge",
    async (t) => {
      await factoryFresh("node1");
      await labStop(NAME, "node3");
      t.teardown(() => labStart(NAME, "node3"));
      await sshAdmin(lab, "node2", "hostname drift1");
      const a = await picotrader(lab, ["reconcile", "-f", good], { PICOTRADER_BOOTSTRAP_PASSWORD: "wrong" });
      t.equal(a.exitCode, 1);
      t.match(
        a.stdout,
        /! node1: no identity was accepted \(sysman with the key: refused; root with the key: refused; root with the bootstrap password: refused\)/,
      );
      t.match(a.stdout, /! node3: cannot connect to 10\.88\.0\.13:22/);
      t.match(a.stdout, /node2: converged \(1 change applied\)/);

      const known = readFileSync(lab.knownHostsPath, "utf8");
      const node2Key = known
        .split("\n")
        .find((l) => l.startsWith("10.88.0.12 "))
        ?.split(" ")
        .slice(1)
        .join(" ");
      const forged = join(dir, "known_hosts");
      writeFileSync(forged, known.replace(/^10\.88\.0\.11 .*$/m, `10.88.0.11 ${node2Key}`));
      await sshAdmin(lab, "node2", "hostname drift2");
      const b = await picotrader(lab, ["reconcile", "-f", good], { PICOTRADER_KNOWN_HOSTS: forged });
      t.equal(b.exitCode, 1);
      t.match(b.stdout, /! node1: host key of 10\.88\.0\.11 has CHANGED/);
      t.match(b.stdout, /node2: converged \(1 change applied\)/);

      const c = await picotrader(lab, ["reconcile", "-f", good, "--only", "node1"]);
      t.equal(c.exitCode, 0, "with the right password and key node1 converges");
    },
  );
}
