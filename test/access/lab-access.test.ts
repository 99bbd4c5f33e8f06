// Access that can never lock us out, on real lab nodes: bootstrap of factory-fresh nodes with the
// root password, drift in keys, sshd and firewall, and fault injection that must end with the
// node reachable as the admin user and reported as rolled back.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { labManifest, labReset, labRunArgv, labStart, labStop } from "../../src/lab/lab.js";
import { describeRestore } from "../../src/engine/record.js";
import { buildSnapshotCommand, buildTxnPrefix, DEADMAN_LOG, ROLLBACK_DIR } from "../../src/engine/guard.js";
import { packageRoot } from "../../src/paths.js";
import { BACKUP_DIR, buildStepCommand } from "../../src/transport/steps.js";
import { shellQuote } from "../../src/transport/quote.js";
import type { ReconcileReport } from "../../src/report/json.js";
import { run } from "../../src/util/run.js";
import { inLab, picotrader, sshAdmin, sshNode, useLab } from "../helpers/lab.js";
import { tempDir } from "../helpers/temp.js";

const NAME = "taccess";
const lab = await useLab(t, NAME, 3);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (lab) {
  const dir = tempDir(t, "access");
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
  /** PermitRootLogin as sshd itself resolves it. */
  const permitRootLogin = async (node: string) =>
    (await sshAdmin(lab, node, "sshd -T | grep '^permitrootlogin '")).stdout.trim();

  t.test(
    "factory-fresh nodes converge with one reconcile, bootstrapped with the root password",
    async (t) => {
      for (const n of lab.nodes) await sshNode(lab, n.name, "rm /root/.ssh/authorized_keys");
      const r = await picotrader(lab, ["reconcile", "-f", good, "--yes"]);
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
        t.strictSame(
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
    t.strictSame(
      report.plan.nodes.map((n) => n.changes.map((c) => `${c.concern}: ${c.summary}`)),
      [
        ["ssh-keys: authorized_keys of sysman: 1 to remove"],
        ["sshd: PermitRootLogin yes -> no"],
        ["firewall: remove allow 8080/tcp"],
      ],
    );
    const fix = await picotrader(lab, ["reconcile", "-f", good, "--yes"]);
    t.equal(fix.exitCode, 0, fix.stdout + fix.stderr);
    t.equal(
      (await sshAdmin(lab, "node1", "grep -c intruder /home/sysman/.ssh/authorized_keys")).stdout.trim(),
      "0",
      "node1: the intruder key is gone from the file",
    );
    t.equal(
      await permitRootLogin("node2"),
      "permitrootlogin no",
      "node2: sshd itself says PermitRootLogin no",
    );
    t.not((await sshNode(lab, "node2", "true")).exitCode, 0, "node2: root cannot log in");
    t.notMatch(
      (await sshAdmin(lab, "node3", "ufw status")).stdout,
      /8080/,
      "node3: ufw no longer lists 8080",
    );
    t.equal((await dryRun(good)).exitCode, 0, "converged again");
  });

  t.test(
    "drift: PermitRootLogin yes where sshd reads it first (sshd_config before its Include, a drop-in that sorts first): commented out there",
    async (t) => {
      const drift = "/etc/ssh/sshd_config.d/00-drift.conf";
      await sshAdmin(lab, "node2", "sed -i '1i PermitRootLogin yes' /etc/ssh/sshd_config");
      await sshAdmin(lab, "node3", `printf 'X11Forwarding no\\nPermitRootLogin yes\\n' > ${drift}`);
      for (const node of ["node2", "node3"])
        t.equal(
          await permitRootLogin(node),
          "permitrootlogin yes",
          `${node}: read before 00-picotrader.conf`,
        );
      const { exitCode, report } = await dryRun(good);
      t.equal(exitCode, 2);
      t.strictSame(
        report.plan.nodes.map((n) => n.changes.map((c) => `${c.concern}: ${c.summary}`)),
        [
          [],
          ["sshd: PermitRootLogin yes -> no; comment out PermitRootLogin in /etc/ssh/sshd_config"],
          // The factory image's 10-factory.conf, read after ours, is left as it is.
          [`sshd: PermitRootLogin yes -> no; comment out PermitRootLogin in ${drift}`],
        ],
      );
      const fix = await picotrader(lab, ["reconcile", "-f", good, "--yes"]);
      t.equal(fix.exitCode, 0, fix.stdout + fix.stderr);
      for (const node of ["node2", "node3"]) {
        t.equal(await permitRootLogin(node), "permitrootlogin no", `${node}: sshd says PermitRootLogin no`);
        t.not((await sshNode(lab, node, "true")).exitCode, 0, `${node}: root cannot log in`);
      }
      const lines = async (node: string, command: string) => (await sshAdmin(lab, node, command)).stdout;
      t.match(
        await lines("node2", "head -1 /etc/ssh/sshd_config"),
        /^# Turned off by picotrader .*: PermitRootLogin yes\n$/,
        "node2: sshd_config's line commented out",
      );
      t.match(
        await lines("node3", `cat ${drift}`),
        /^X11Forwarding no\n# Turned off by picotrader .*: PermitRootLogin yes\n$/,
        "node3: the rest of the drop-in is kept",
      );
      t.equal(
        await lines("node3", "grep -c '^PermitRootLogin yes' /etc/ssh/sshd_config.d/10-factory.conf"),
        "1\n",
        "node3: the factory's drop-in, read after ours, is left as it is",
      );
      t.equal((await dryRun(good)).exitCode, 0, "converged again");
      await sshAdmin(lab, "node2", "sed -i 1d /etc/ssh/sshd_config");
      await sshAdmin(lab, "node3", `rm ${drift}`);
    },
  );

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
      "--yes",
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
    const r = await picotrader(lab, [
      "reconcile",
      "-f",
      manifest("bad-sshd.yaml", bad),
      "--only",
      "node2",
      "--yes",
    ]);
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
      /no-ssh\.yaml:\d+:\d+: error: firewall\.allow: no rule allows SSH \(22\/tcp\) on nodes\[0\] \(node1\): it would be cut off/,
    );
  });

  // Valid manifests that still cut the admin off: the guard, not validate, must catch them.
  const withSshd = (settings: string) => base.replace("nodes:\n", `ssh:\n  settings:\n${settings}nodes:\n`);
  const allowRootOnly = manifest("allow-root-only.yaml", withSshd("    AllowUsers: root\n"));
  const listenLocal = manifest("listen-local.yaml", withSshd("    ListenAddress: 127.0.0.1\n"));

  t.test("a valid manifest that locks the admin out (AllowUsers root): proven, rolled back", async (t) => {
    t.equal((await picotrader(lab, ["validate", "-f", allowRootOnly])).exitCode, 0, "validate cannot know");
    const r = await picotrader(lab, ["reconcile", "-f", allowRootOnly, "--only", "node3", "--yes"]);
    t.equal(r.exitCode, 1);
    t.match(r.stdout, /node3: rolled-back[\s\S]*access changes rolled back: a new login as sysman/);
    t.ok(await adminWorks("node3"), "sysman logs in again");
    t.equal(
      (await sshAdmin(lab, "node3", "sshd -T | grep -c '^allowusers' || true")).stdout.trim(),
      "0",
      "sshd has no AllowUsers again",
    );
    t.equal((await dryRun(good)).exitCode, 0, "node3 is as it was");
  });

  t.test("the controller killed during an access change: the dead-man timer restores access", async (t) => {
    const DEADMAN = 10;
    // The timer fires within 1 s (AccuracySec=1s); sshd's reload and our 1 s polling add a little.
    const MARGIN = 10;
    const [cmd, ...args] = labRunArgv(lab, [
      "node",
      join(packageRoot(), "dist", "bin", "picotrader.js"),
      "reconcile",
      "-f",
      listenLocal,
      "--only",
      "node2",
      "--deadman-seconds",
      String(DEADMAN),
      "--yes",
    ]);
    const child = spawn(cmd as string, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    const changing = new Promise<void>((resolve) =>
      child.stderr.on(
        "data",
        (d: Buffer) => ((stderr += String(d)), stderr.includes("[node2] sshd:") && resolve()),
      ),
    );
    await Promise.race([changing, sleep(60_000)]);
    t.match(stderr, /\[node2\] sshd: ListenAddress/);
    // The proof waits for a login that cannot come (sshd listens on 127.0.0.1 only): kill it there.
    await sleep(2000);
    t.notOk(await adminWorks("node2"), "the change did cut SSH off");
    const killedAt = Date.now();
    child.kill("SIGKILL");
    let restoredAfter: number | undefined;
    for (let i = 0; i < DEADMAN + MARGIN && restoredAfter === undefined; i++) {
      await sleep(1000);
      if (await adminWorks("node2")) restoredAfter = Date.now() - killedAt;
    }
    t.ok(
      restoredAfter !== undefined,
      `access restored ${((restoredAfter ?? NaN) / 1000).toFixed(1)} s after the controller died (dead-man ${DEADMAN} s + ${MARGIN} s margin)`,
    );
    t.comment(`dead-man restore: ${restoredAfter} ms after the kill`);
    t.equal(
      (await sshAdmin(lab, "node2", "sshd -T | grep '^listenaddress'")).stdout.trim(),
      "listenaddress [::]:22\nlistenaddress 0.0.0.0:22",
      "sshd listens everywhere again",
    );
    t.equal(
      (
        await sshAdmin(
          lab,
          "node2",
          "find /var/lib/picotrader/rollback /var/lib/picotrader/backup /var/lib/picotrader/deadman-restored -perm /o+r | wc -l",
        )
      ).stdout.trim(),
      "0",
      "nothing the restore left is world-readable",
    );
    const seen = await dryRun(good);
    t.equal(
      seen.exitCode,
      0,
      "the node is back in its old state: nothing is pending, and the restore is reported",
    );
    t.match(
      seen.report.plan.nodes[1]?.restored?.[0],
      { at: /^\d{4}-\d\d-\d\dT\S+Z$/, transaction: /^\w+$/ },
      "JSON: when, and which transaction",
    );
    t.match(
      describeRestore(seen.report.plan.nodes[1]?.restored?.[0] ?? { at: "", transaction: "" }),
      /^restored by the dead-man timer at \d{4}-\d\d-\d\dT\S+Z \(access transaction \w+\)$/,
    );
    const text = await picotrader(lab, ["reconcile", "-f", good, "--dry-run"]);
    t.match(text.stdout, /node2 .*\n {2}! restored by the dead-man timer at /, "text says so");
    const md = await picotrader(lab, ["reconcile", "-f", good, "--dry-run", "--markdown"]);
    t.match(md.stdout, /- :warning: restored by the dead-man timer at /, "Markdown says so");
    const fix = await picotrader(lab, ["reconcile", "-f", good, "--only", "node2", "--yes"]);
    t.equal(fix.exitCode, 0, fix.stdout + fix.stderr);
    t.equal((await dryRun(good)).exitCode, 0, "after a converged apply the restore is no longer reported");
  });

  t.test("a step slower than the dead-man timer: access is proven first, nothing is restored", async (t) => {
    // Every dpkg run on node3 now takes 12 s more: far longer than the 5 s timer.
    await sshAdmin(lab, "node3", `echo 'DPkg::Pre-Invoke {"sleep 12";};' > /etc/apt/apt.conf.d/99slow`);
    t.teardown(() => sshAdmin(lab, "node3", "rm -f /etc/apt/apt.conf.d/99slow"));
    const slow = manifest(
      "slow.yaml",
      withSshd("    MaxAuthTries: 4\n    Banner: /etc/issue.net\n").replace(
        "nodes:\n",
        "packages:\n  install: [tftpd-hpa]\nnodes:\n",
      ),
    );
    const started = Date.now();
    const r = await picotrader(lab, [
      "reconcile",
      "-f",
      slow,
      "--only",
      "node3",
      "--deadman-seconds",
      "5",
      "--yes",
    ]);
    const took = Date.now() - started;
    t.equal(r.exitCode, 0, r.stdout + r.stderr);
    t.ok(took > 12_000, `the run took ${(took / 1000).toFixed(1)} s, the timer 5 s`);
    t.match(
      r.stderr,
      /\[node3\] sshd:[\s\S]*\[node3\] packages: install tftpd-hpa/,
      "access first, then packages",
    );
    t.equal(
      (
        await sshAdmin(lab, "node3", "cat /var/lib/picotrader/deadman-restored 2>/dev/null | wc -l")
      ).stdout.trim(),
      "0",
      "the dead-man timer restored nothing",
    );
    t.equal(
      (await sshAdmin(lab, "node3", "sshd -T | grep -E '^(maxauthtries|banner) ' | sort")).stdout.trim(),
      "banner /etc/issue.net\nmaxauthtries 4",
      "sshd has the declared settings",
    );
    t.match(
      (await sshAdmin(lab, "node3", "dpkg-query -W -f '${Status}' tftpd-hpa")).stdout,
      /install ok installed/,
    );
    const second = await picotrader(lab, [
      "reconcile",
      "-f",
      slow,
      "--only",
      "node3",
      "--dry-run",
      "--detailed-exitcode",
    ]);
    t.equal(second.exitCode, 0, `the settings converge: a second run plans nothing\n${second.stdout}`);
  });

  t.test(
    "a package that would remove openssh-server is refused by apt, and nothing is removed",
    async (t) => {
      // A local repository on node3 with one package that conflicts with openssh-server.
      const repo = [
        "set -e",
        "mkdir -p /srv/evil/pkg/DEBIAN",
        "printf 'Package: evil-conflict\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: lab <lab@lab>\\nConflicts: openssh-server\\nDescription: takes sshd away\\n' > /srv/evil/pkg/DEBIAN/control",
        "dpkg-deb -b /srv/evil/pkg /srv/evil/evil-conflict_1.0_all.deb >/dev/null",
        "cd /srv/evil",
        "{ dpkg-deb -f evil-conflict_1.0_all.deb; echo 'Filename: ./evil-conflict_1.0_all.deb'; echo \"Size: $(stat -c %s evil-conflict_1.0_all.deb)\"; echo \"SHA256: $(sha256sum evil-conflict_1.0_all.deb | cut -d' ' -f1)\"; echo; } > Packages",
        "echo 'deb [trusted=yes] file:/srv/evil ./' > /etc/apt/sources.list.d/evil.list",
        "apt-get update -q >/dev/null 2>&1",
      ].join("\n");
      t.equal((await sshAdmin(lab, "node3", repo)).exitCode, 0, "the evil repository is ready");
      t.teardown(() =>
        sshAdmin(
          lab,
          "node3",
          "rm -rf /srv/evil /etc/apt/sources.list.d/evil.list; apt-get update -q >/dev/null 2>&1",
        ),
      );
      const evil = manifest(
        "evil.yaml",
        base.replace("nodes:\n", "packages:\n  install: [evil-conflict]\nnodes:\n"),
      );
      const r = await picotrader(lab, ["reconcile", "-f", evil, "--only", "node3", "--yes"]);
      t.equal(r.exitCode, 1);
      t.match(
        r.stdout,
        /node3: [\s\S]*packages: step failed \(exit 100\): [^\n]*apt-get [^\n]*--no-remove[^\n]*install --no-install-recommends -- evil-conflict/,
      );
      t.match(
        (await sshAdmin(lab, "node3", "dpkg-query -W -f '${Status}' openssh-server")).stdout,
        /install ok installed/,
        "openssh-server is still installed",
      );
      t.ok(await adminWorks("node3"), "sysman still logs in");
    },
  );

  t.test(
    "a restore first stops the transaction's processes still running, then records itself",
    async (t) => {
      // A transaction of our own on node3 guarding a scratch file, with one of its steps still running.
      const txn = "t3stkill";
      const setup = [
        "printf old > /root/guarded",
        buildSnapshotCommand(txn, [{ paths: ["/root/guarded"], reactivate: [] }]),
        `( ${buildTxnPrefix(txn)}\nprintf new > /root/guarded; exec sleep 300 ) >/dev/null 2>&1 &`,
        "sleep 0.5",
        `grep -lzx 'PICOTRADER_TXN=${txn}' /proc/[0-9]*/environ 2>/dev/null | wc -l`,
      ].join("\n");
      const running = await sshAdmin(lab, "node3", setup);
      t.not(running.stdout.trim().split("\n").pop(), "0", "a marked step is running");
      const restore = await sshAdmin(
        lab,
        "node3",
        [
          `sh ${ROLLBACK_DIR}/${txn}/restore.sh deadman`,
          "sleep 0.5",
          `for e in /proc/[0-9]*/environ; do tr '\\0' '\\n' < "$e" 2>/dev/null | grep -qx 'PICOTRADER_TXN=${txn}' && echo still-running; done; true`,
          "cat /root/guarded; echo",
          `grep -c ' ${txn}$' ${DEADMAN_LOG}`,
          `stat -c %a ${ROLLBACK_DIR}/${txn} ${ROLLBACK_DIR}/${txn}/saved.tar`,
        ].join("\n"),
      );
      t.strictSame(restore.stdout.trim().split("\n"), ["old", "1", "700", "600"], restore.stderr);
      const refusedStep = await sshAdmin(lab, "node3", `${buildTxnPrefix(txn)}\necho ran`);
      t.equal(refusedStep.exitCode, 75, "no step of the transaction starts after the restore");
      t.match(refusedStep.stderr, new RegExp(`access transaction ${txn} is over`));
      await sshAdmin(lab, "node3", `rm -rf ${ROLLBACK_DIR}/${txn} /root/guarded ${DEADMAN_LOG}`);
    },
  );

  t.test("backups are root's alone, and only the newest 5 of a file are kept", async (t) => {
    const writes = Array.from({ length: 7 }, (_, i) => {
      const { command, stdin } = buildStepCommand({
        kind: "write",
        path: "/root/picotrader-prune-test",
        content: `v${i}\n`,
        mode: "0644",
        owner: "root",
        group: "root",
      });
      return `printf '%s' ${shellQuote(stdin ?? "")} | { ${command}\n}`;
    });
    const r = await sshAdmin(
      lab,
      "node3",
      [
        "umask 022",
        ...writes,
        `ls ${BACKUP_DIR}/root/ | grep -c '^picotrader-prune-test\\.'`,
        `stat -c %a ${BACKUP_DIR} $(ls -d ${BACKUP_DIR}/root/picotrader-prune-test.* | tail -1)`,
        `cat $(ls -d ${BACKUP_DIR}/root/picotrader-prune-test.* | tail -1)`,
        `rm -rf /root/picotrader-prune-test ${BACKUP_DIR}/root`,
      ].join("\n"),
    );
    t.strictSame(r.stdout.trim().split("\n"), ["5", "700", "600", "v5"], r.stderr);
  });

  t.test("a converged node passes ssh-audit with no failure", async (t) => {
    const r = await inLab(lab, ["ssh-audit", "-n", lab.nodes[0]?.address ?? ""]);
    // Exit 2 also means "an algorithm ssh-audit 2.5 does not know" (kex-strict, the Terrapin fix);
    // 3 is a connection or audit error.
    t.ok([0, 1, 2].includes(r.exitCode), `ssh-audit audited the node (exit ${r.exitCode})`);
    const failures = r.stdout.split("\n").filter((l) => l.includes("[fail]"));
    t.strictSame(failures, [], "no [fail] line");
    t.match(r.stdout, /\(kex\) curve25519-sha256/, "it really audited the key exchange");
    t.notMatch(r.stdout, /ecdh-sha2-nistp|ecdsa-sha2-nistp/, "no NIST-curve algorithm is offered");
  });

  t.test(
    "wrong bootstrap password, changed host key, node down: each named; the others converge",
    async (t) => {
      await factoryFresh("node1");
      await labStop(NAME, "node3");
      t.teardown(() => labStart(NAME, "node3"));
      await sshAdmin(lab, "node2", "hostname drift1");
      const a = await picotrader(lab, ["reconcile", "-f", good, "--yes"], {
        PICOTRADER_BOOTSTRAP_PASSWORD: "wrong",
      });
      t.equal(a.exitCode, 1);
      t.match(
        a.stdout,
        /! node1: no identity was accepted \(sysman with the key: refused; root with the key: refused; root with the bootstrap password: refused\)/,
      );
      t.match(a.stdout, /! node3: cannot connect to 10\.88\.0\.13:22/);
      t.match(a.stdout, /node2: converged \(1 change applied\)/);
      t.equal(
        (await sshAdmin(lab, "node2", "hostname")).stdout.trim(),
        "node2",
        "node2's hostname, read back",
      );

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
      const b = await picotrader(lab, ["reconcile", "-f", good, "--yes"], { PICOTRADER_KNOWN_HOSTS: forged });
      t.equal(b.exitCode, 1);
      t.match(b.stdout, /! node1: host key of 10\.88\.0\.11 has CHANGED/);
      t.match(b.stdout, /node2: converged \(1 change applied\)/);
      t.equal(
        (await sshAdmin(lab, "node2", "hostname")).stdout.trim(),
        "node2",
        "node2's hostname, read back",
      );

      const c = await picotrader(lab, ["reconcile", "-f", good, "--only", "node1", "--yes"]);
      t.equal(c.exitCode, 0, "with the right password and key node1 converges");
    },
  );

  t.test(
    "known_hosts the OpenSSH way: a wildcard pins, @revoked refuses, @cert-authority is refused clearly",
    async (t) => {
      const known = readFileSync(lab.knownHostsPath, "utf8");
      const line2 = known.split("\n").find((l) => l.startsWith("10.88.0.12 ")) ?? "";
      const key2 = line2.split(" ").slice(1).join(" ");
      t.match(key2, /^ssh-ed25519 AAAA/);
      const file = join(dir, "known_hosts.patterns");
      const plan = (text: string) => {
        writeFileSync(file, text);
        return picotrader(lab, ["reconcile", "-f", good, "--only", "node2", "--dry-run"], {
          PICOTRADER_KNOWN_HOSTS: file,
        });
      };
      const wild = await plan(known.replace(line2, `10.88.0.1?,!10.88.0.11 ${key2}`));
      t.equal(wild.exitCode, 0, `a wildcard line pins node2\n${wild.stdout}`);
      const revoked = await plan(`${known}@revoked * ${key2}\n`);
      t.equal(revoked.exitCode, 1);
      t.match(
        revoked.stdout,
        /host key SHA256:\S{43} of 10\.88\.0\.12 is REVOKED \(@revoked in known_hosts\): refused/,
      );
      const ca = await plan(known.replace(line2, `@cert-authority 10.88.0.* ${key2}`));
      t.equal(ca.exitCode, 1);
      t.match(
        ca.stdout,
        /10\.88\.0\.12 is trusted only through @cert-authority lines: PicoTrader does not verify host certificates/,
      );
    },
  );

  t.test("the bootstrap password goes only to a host key pinned before the run, or confirmed", async (t) => {
    await factoryFresh("node1");
    // A known_hosts without node1: whoever answers on its address would be learned in this run.
    const unpinned = join(dir, "known_hosts.unpinned");
    writeFileSync(
      unpinned,
      readFileSync(lab.knownHostsPath, "utf8")
        .split("\n")
        .filter((l) => !l.startsWith("10.88.0.11 "))
        .join("\n"),
    );
    const args = ["reconcile", "-f", good, "--only", "node1", "--accept-new-host-keys", "--yes"];
    const refused = await picotrader(lab, args, { PICOTRADER_KNOWN_HOSTS: unpinned });
    t.equal(refused.exitCode, 1);
    const m =
      /not sending the bootstrap password to 10\.88\.0\.11: its host key (SHA256:\S{43}) was not pinned before this run/.exec(
        refused.stdout,
      );
    t.ok(m, refused.stdout);
    const fingerprint = m?.[1] ?? "";
    const real = await run("ssh-keygen", ["-l", "-f", `${lab.knownHostsPath}`]);
    t.match(real.stdout, fingerprint, "the fingerprint shown is the node's real one");
    t.match(refused.stdout, /node1 \(10\.88\.0\.11\): unreachable/, "node1 is named");
    t.notMatch(
      readFileSync(unpinned, "utf8"),
      /^10\.88\.0\.11 /m,
      "a key that was only shown (no login succeeded on it) is not pinned for the next run",
    );
    const confirmed = await picotrader(lab, [...args, "--host-fingerprint", `node1=${fingerprint}`], {
      PICOTRADER_KNOWN_HOSTS: unpinned,
    });
    t.equal(confirmed.exitCode, 0, confirmed.stdout + confirmed.stderr);
    t.ok(await adminWorks("node1"), "node1 converged once its key was confirmed");
    t.match(readFileSync(unpinned, "utf8"), /^10\.88\.0\.11 ssh-ed25519 /m, "and its key is pinned now");
  });
}
