import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import {
  FACTORY_PASSWORD,
  labDown,
  labReset,
  labStatus,
  labDir,
  readLab,
  readNodeCpuUsec,
  supervisorPid,
  setCpuLimit,
} from "../../src/lab/lab.js";
import { packageRoot } from "../../src/paths.js";
import { run } from "../../src/util/run.js";
import { inLab, picotrader, sleep, sshNode, useLab } from "../helpers/lab.js";

const NAME = "tlab";
const lab = await useLab(t, NAME, 3);

/** Every process whose command line names it the supervisor of `node` in this lab. */
const supervisors = (node: string) =>
  readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return (
          readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0").slice(2, 4).join(" ") === `${NAME} ${node}`
        );
      } catch {
        return false;
      }
    });

if (lab) {
  t.test("every node answers SSH as root with the lab key, with its own hostname", async (t) => {
    const names = new Set<string>();
    for (const node of lab.nodes) {
      const r = await sshNode(lab, node.name, "hostname");
      t.equal(r.exitCode, 0, `${node.name}: ${r.stderr}`);
      names.add(r.stdout.trim());
    }
    t.equal(names.size, 3, `hostnames differ: ${[...names].join(", ")}`);
  });

  t.test("lab ssh logs in as root on a factory-fresh node (it has no admin user yet)", async (t) => {
    const r = await run("node", [
      join(packageRoot(), "dist", "bin", "picotrader.js"),
      "lab",
      "ssh",
      "--name",
      NAME,
      "node1",
      "--",
      "id",
      "-un",
    ]);
    t.equal(r.exitCode, 0, r.stderr);
    t.equal(r.stdout.trim(), "root");
  });

  t.test("root logs in with the factory password", async (t) => {
    const askpass = join(labDir(NAME), "askpass.sh");
    writeFileSync(askpass, `#!/bin/sh\necho '${FACTORY_PASSWORD}'\n`);
    chmodSync(askpass, 0o700);
    const node = lab.nodes[1]!;
    const r = await run("nsenter", [
      `--net=/run/netns/${lab.netns}`,
      "env",
      `SSH_ASKPASS=${askpass}`,
      "SSH_ASKPASS_REQUIRE=force",
      "ssh",
      "-o",
      `UserKnownHostsFile=${lab.knownHostsPath}`,
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      "PubkeyAuthentication=no",
      "-o",
      "PreferredAuthentications=password",
      "-o",
      "NumberOfPasswordPrompts=1",
      `root@${node.address}`,
      "id -un",
    ]);
    t.equal(r.exitCode, 0, r.stderr);
    t.equal(r.stdout.trim(), "root");
  });

  t.test("systemd runs: running, or degraded with the failed units named", async (t) => {
    for (const node of lab.nodes) {
      const r = await sshNode(
        lab,
        node.name,
        "systemctl is-system-running --wait; systemctl --failed --no-legend --plain",
      );
      const [state, ...failed] = r.stdout.trim().split("\n");
      t.ok(state === "running" || state === "degraded", `${node.name}: ${state}`);
      if (state === "degraded")
        t.ok(failed.length > 0, `${node.name} degraded because of: ${failed.join("; ")}`);
    }
  });

  t.test("lab status --json lists nodes, addresses, ports, state, key and known_hosts", async (t) => {
    const r = await run("node", [
      join(process.cwd(), "dist", "bin", "picotrader.js"),
      "lab",
      "status",
      "--name",
      NAME,
      "--json",
    ]);
    t.equal(r.exitCode, 0, r.stderr);
    const status = JSON.parse(r.stdout) as {
      nodes: {
        name: string;
        address: string;
        sshPort: number;
        state: string;
        ssh: boolean;
        keyPath: string;
        knownHostsPath: string;
      }[];
    };
    t.strictSame(
      status.nodes.map((n) => [n.name, n.address, n.sshPort, n.state, n.ssh]),
      lab.nodes.map((n) => [n.name, n.address, 22, "running", true]),
    );
    t.ok(existsSync(status.nodes[0]!.keyPath) && existsSync(status.nodes[0]!.knownHostsPath));
  });

  t.test("ufw enable in one node stays in that node", async (t) => {
    const legacyTables = () =>
      ["/proc/net/ip_tables_names", "/proc/net/ip6_tables_names"]
        .map((f) => (existsSync(f) ? readFileSync(f, "utf8") : ""))
        .join("|");
    const hostBefore = legacyTables();
    const node2Before = await sshNode(lab, "node2", "iptables -S");
    const r = await sshNode(lab, "node1", "ufw allow 22/tcp >/dev/null && ufw --force enable && ufw status");
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, /Status: active/);
    t.match(
      (await sshNode(lab, "node1", "iptables -S")).stdout,
      /ufw-before-input/,
      "node1 has ufw's chains",
    );
    const node2After = await sshNode(lab, "node2", "iptables -S");
    t.equal(node2After.stdout, node2Before.stdout, "node2's rules are unchanged");
    t.notMatch(node2After.stdout, /ufw/);
    t.equal(legacyTables(), hostBefore, "the host's table list is unchanged");
  });

  t.test("ip_forward is per node", async (t) => {
    await sshNode(lab, "node1", "sysctl -q -w net.ipv4.ip_forward=1");
    await sshNode(lab, "node2", "sysctl -q -w net.ipv4.ip_forward=0");
    t.equal((await sshNode(lab, "node1", "sysctl -n net.ipv4.ip_forward")).stdout.trim(), "1");
    t.equal((await sshNode(lab, "node2", "sysctl -n net.ipv4.ip_forward")).stdout.trim(), "0");
  });

  t.test("apt-get installs haproxy from the local repository", async (t) => {
    const r = await sshNode(
      lab,
      "node3",
      "apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy >/dev/null && haproxy -v | head -n 1",
    );
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, /HAProxy version/);
  });

  t.test("a reboot inside a node comes back, through boot.ini", async (t) => {
    await sshNode(lab, "node2", "touch /run/before-reboot");
    await sshNode(lab, "node2", "systemctl reboot");
    const log = join(labDir(NAME), "nodes", "node2", "supervisor.log");
    const rebooted = /status 133\n.*reboot requested\n.*booting: Ubuntu/;
    for (let i = 0; i < 100 && !rebooted.test(readFileSync(log, "utf8")); i++)
      await new Promise((r) => setTimeout(r, 200));
    t.match(readFileSync(log, "utf8"), rebooted, "the supervisor saw exit 133 and booted the node again");
    let r = await sshNode(lab, "node2", "test -e /run/before-reboot && echo same-boot || echo new-boot");
    for (let i = 0; i < 60 && r.exitCode !== 0; i++) {
      await new Promise((res) => setTimeout(res, 500));
      r = await sshNode(lab, "node2", "test -e /run/before-reboot && echo same-boot || echo new-boot");
    }
    t.equal(r.stdout.trim(), "new-boot");
  });

  t.test("lab reset returns a node to the factory image", async (t) => {
    await sshNode(lab, "node1", "touch /root/hand-made && hostname changed");
    await labReset(NAME, "node1");
    const r = await sshNode(lab, "node1", "ls /root; hostname; ufw status");
    t.notMatch(r.stdout, /hand-made/);
    t.match(r.stdout, /odroid64-1/);
    t.match(r.stdout, /Status: inactive/);
  });

  t.test("two nodes stopped and started by two commands at once: the lab knows both", async (t) => {
    const both = (verb: string) =>
      Promise.all(["node2", "node3"].map((n) => picotrader(lab, ["lab", verb, "--name", NAME, n])));
    for (const r of await both("stop")) t.equal(r.exitCode, 0, r.stderr);
    const off = await labStatus(NAME);
    t.strictSame(
      off.nodes.map((n) => n.state),
      ["running", "off", "off"],
    );
    for (const r of await both("start")) t.equal(r.exitCode, 0, r.stderr);
    const on = await labStatus(NAME);
    t.strictSame(
      on.nodes.map((n) => n.state),
      ["running", "running", "running"],
      "each start's supervisor is known (one command's write of the lab's state once lost the other's)",
    );
    for (const n of ["node2", "node3"]) t.equal(supervisors(n).length, 1, `${n} has one supervisor`);
    const stopped = await picotrader(lab, ["lab", "stop", "--name", NAME, "node3"]);
    t.equal(stopped.exitCode, 0, stopped.stderr);
    t.equal(supervisors("node3").length, 0, "a stop ends it");
    const started = await picotrader(lab, ["lab", "start", "--name", NAME, "node3"]);
    t.equal(started.exitCode, 0, started.stderr);
  });

  t.test(
    "a node started before the PID had a file of its own: its PID in the state still stops it",
    async (t) => {
      const state = join(labDir(NAME), "state.json");
      const pidFile = join(labDir(NAME), "nodes", "node3", "supervisor.pid");
      const pid = Number(readFileSync(pidFile, "utf8"));
      // As the code before left it: the PID in the lab's state, no file.
      const saved = readFileSync(state, "utf8");
      const legacy = JSON.parse(saved) as { nodes: { name: string; supervisorPid?: number }[] };
      for (const n of legacy.nodes) if (n.name === "node3") n.supervisorPid = pid;
      writeFileSync(state, JSON.stringify(legacy));
      rmSync(pidFile);
      try {
        t.equal((await labStatus(NAME)).nodes[2]?.state, "running", "known as running");
        const stopped = await picotrader(lab, ["lab", "stop", "--name", NAME, "node3"]);
        t.equal(stopped.exitCode, 0, stopped.stderr);
        t.strictSame(supervisors("node3"), [], "lab stop ended its supervisor");
      } finally {
        writeFileSync(state, saved);
      }
      const started = await picotrader(lab, ["lab", "start", "--name", NAME, "node3"]);
      t.equal(started.exitCode, 0, started.stderr);
      t.equal(supervisors("node3").length, 1, "started again, with its PID in a file");
    },
  );

  t.test("the lab has no route out", async (t) => {
    const table = await inLab(lab, ["ip", "route", "show", "table", "all"]);
    t.notMatch(table.stdout, /^default/m, "no default route in the lab namespace");
    const get = await inLab(lab, ["ip", "route", "get", "192.0.2.1"]);
    t.not(get.exitCode, 0, "no route to an outside address");
    const fromNode = await sshNode(lab, "node3", "ip route get 192.0.2.1");
    t.not(fromNode.exitCode, 0, "nodes have no route out either");
    const env = await picotrader(lab, ["--help"]);
    t.equal(env.exitCode, 0, "the CLI runs inside the lab");
  });

  t.test("a CPU limit caps every process of every node, and goes away again", async (t) => {
    const cgroup = (h: string, node: string) => `/sys/fs/cgroup/${h}/picotrader/${NAME}/${node}`;
    const procs = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true })
        .flatMap((e) => (e.isDirectory() ? procs(join(dir, e.name)) : []))
        .concat(readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean))
        .sort();
    // The share of a core a node uses while a busy loop runs on it: its cgroup's CPU time over one
    // second of the loop (the login that starts it is not counted).
    const busyShare = async (node: string) => {
      const r = await sshNode(lab, node, "nohup timeout 3 sh -c 'while :; do :; done' >/dev/null 2>&1 &");
      t.equal(r.exitCode, 0, r.stderr);
      await sleep(500);
      const [u0, t0] = [readNodeCpuUsec(lab, node) ?? NaN, process.hrtime.bigint()];
      await sleep(1000);
      const [u1, t1] = [readNodeCpuUsec(lab, node) ?? NaN, process.hrtime.bigint()];
      await sleep(1600); // the loop ends
      return (u1 - u0) / (Number(t1 - t0) / 1000);
    };
    const free = await busyShare("node2");
    setCpuLimit(NAME, 10);
    for (const node of lab.nodes) {
      t.equal(readFileSync(`${cgroup("cpu", node.name)}/cpu.cfs_quota_us`, "utf8").trim(), "10000");
      // A process forks into its parent's cgroups: every process of the node still alive once
      // the CPU cgroup was read is in it (one that ended between the two reads is not counted).
      const all = procs(cgroup("unified", node.name));
      const capped = new Set(procs(cgroup("cpu", node.name)));
      const outside = all.filter((pid) => !capped.has(pid) && existsSync(`/proc/${pid}`));
      t.ok(all.length > 3, `${node.name}: ${all.length} processes`);
      t.strictSame(outside, [], `${node.name}: every process is capped`);
    }
    const capped = await busyShare("node2");
    setCpuLimit(NAME, undefined);
    t.equal(readFileSync(`${cgroup("cpu", "node2")}/cpu.cfs_quota_us`, "utf8").trim(), "-1");
    t.equal(readLab(NAME)?.cpuLimit, undefined);
    t.ok(capped < 0.2, `capped at 10%: ${(capped * 100).toFixed(0)}% of a core while busy`);
    t.ok(free > 0.4, `not capped: ${(free * 100).toFixed(0)}% of a core while busy`);
  });

  t.test("lab down removes every namespace, mount, process and cgroup", async (t) => {
    const state = readLab(NAME);
    const pids = lab.nodes.map((n) => (state ? supervisorPid(state, n.name) : undefined));
    t.ok(
      pids.every((p) => p !== undefined),
      "every node's supervisor is known",
    );
    const status = await labStatus(NAME);
    t.ok(status.nodes.every((n) => n.state === "running"));
    await labDown(NAME);
    t.notMatch((await run("ip", ["netns", "list"])).stdout, new RegExp(`pt-${NAME}\\b`));
    t.notMatch(readFileSync("/proc/mounts", "utf8"), new RegExp(labDir(NAME)));
    // Ended: gone, or a zombie that this machine's init has not reaped yet (a supervisor that
    // `lab start` spawned is init's child once that command exits).
    const ended = (pid: number) => {
      try {
        return readFileSync(`/proc/${pid}/stat`, "utf8")
          .replace(/^.*\) /, "")
          .startsWith("Z");
      } catch {
        return true;
      }
    };
    for (const pid of pids) t.ok(pid !== undefined && ended(pid), `supervisor ${pid} ended`);
    for (const h of ["unified", "memory", "cpu", "systemd"])
      t.notOk(existsSync(`/sys/fs/cgroup/${h}/picotrader/${NAME}`), `no ${h} cgroup left`);
    t.notOk(existsSync(labDir(NAME)));
  });
}
