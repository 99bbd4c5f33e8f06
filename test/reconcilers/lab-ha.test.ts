// The runtime and the highly available API on real lab nodes (two control-plane nodes and a
// worker): converge from the factory image, Docker answers, exactly one node holds the virtual IP
// behind a firewall that lets VRRP through, HAProxy forwards VIP:6443 to stand-in API servers,
// failover when keepalived or HAProxy stops on the holder, a rolling HAProxy change that keeps the
// IP answering, and drift made by hand found and repaired.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { labRunArgv, type LabState } from "../../src/lab/lab.js";
import type { ReconcileReport } from "../../src/report/json.js";
import { packageRoot } from "../../src/paths.js";
import { run as runProcess } from "../../src/util/run.js";
import { eventually, inLab, picotrader, sshAdmin, useLab } from "../helpers/lab.js";
import { tempDir } from "../helpers/temp.js";

const NAME = "tha";
const lab = await useLab(t, NAME, 3);
const VIP = "10.88.0.200";

/** A stand-in for the API server on a control-plane node: answers its node's name on :6443. */
const STAND_IN = `import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 6443)); s.listen(64)
while True:
    c, _ = s.accept(); c.sendall((sys.argv[2] + "\\n").encode()); c.close()`;

/** Connects to VIP:6443 from the lab's controller address; returns the backend's name or "". */
const CLIENT = `const s = require("net").connect({ host: "${VIP}", port: 6443, timeout: 1000 });
let out = ""; s.on("data", (d) => (out += d)); s.on("timeout", () => s.destroy());
s.on("close", () => console.log(out.trim())); s.on("error", () => {});`;

/**
 * Connects to VIP:6443 every 100 ms until stopped; reports the longest time without an answer.
 * Runs inside the lab's network namespace, as a client of the API would.
 */
function startVipProber(lab: LabState): {
  stop: () => Promise<{ longestGapMs: number; answers: number; failures: number }>;
} {
  const script = `const net = require("net");
let last = Date.now(), longest = 0, answers = 0, failures = 0, stopping = false;
function once() {
  const s = net.connect({ host: "${VIP}", port: 6443, timeout: 500 });
  let out = "";
  s.on("data", (d) => (out += d));
  s.on("timeout", () => s.destroy());
  s.on("error", () => {});
  s.on("close", () => {
    const now = Date.now();
    if (out.trim()) { longest = Math.max(longest, now - last); last = now; answers++; } else failures++;
    if (stopping) { longest = Math.max(longest, Date.now() - last); console.log(JSON.stringify({ longestGapMs: longest, answers, failures })); process.exit(0); }
    setTimeout(once, 100);
  });
}
process.on("SIGTERM", () => { stopping = true; });
once();`;
  const [file, ...args] = labRunArgv(lab, ["node", "-e", script]);
  const child = spawn(file as string, args, { stdio: ["ignore", "pipe", "inherit"] });
  let stdout = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  return {
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
      return JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as {
        longestGapMs: number;
        answers: number;
        failures: number;
      };
    },
  };
}

if (lab) {
  // The manifest a user gets: `lab manifest -o`, with the TFTP stand-ins beside it.
  const file = join(tempDir(t, "test"), "lab.yaml");
  const made = await picotrader(lab, ["lab", "manifest", "--name", NAME, "-o", file]);
  if (made.exitCode !== 0) throw new Error(`lab manifest: ${made.stderr}`);
  const run = (...args: string[]) => picotrader(lab, ["reconcile", "-f", file, ...args]);
  /** The CLI on this machine, as the operator runs it (lab commands enter the lab by themselves). */
  const operator = (args: string[]) =>
    runProcess("node", [join(packageRoot(), "dist", "bin", "picotrader.js"), ...args]);
  const dryRun = async () => {
    const r = await run("--dry-run", "--detailed-exitcode", "--json");
    return { exitCode: r.exitCode, report: JSON.parse(r.stdout) as ReconcileReport, stderr: r.stderr };
  };
  const holders = async () => {
    const out: string[] = [];
    for (const node of ["node1", "node2", "node3"]) {
      const r = await sshAdmin(
        lab,
        node,
        `ip -o -4 addr show | grep -qF ' ${VIP}/' && echo held || echo free`,
      );
      if (r.stdout.trim() === "held") out.push(node);
    }
    return out;
  };
  /** Polls until `node` alone holds the virtual IP; returns the seconds it took, or fails. */
  const waitForHolder = async (node: string, limitS = 15) => {
    const start = Date.now();
    while (Date.now() - start < limitS * 1000) {
      const h = await holders();
      if (h.length === 1 && h[0] === node) return (Date.now() - start) / 1000;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(
      `${node} did not become the only holder of ${VIP} within ${limitS} s (holders: ${(await holders()).join(", ")})`,
    );
  };
  const connectVip = async () => (await inLab(lab, ["node", "-e", CLIENT])).stdout.trim();

  t.test("a fresh lab converges: Docker, swap off, kernel settings, HAProxy and keepalived", async (t) => {
    const r = await run("--yes");
    t.equal(r.exitCode, 0, r.stdout + r.stderr);
    t.match(r.stdout, /Apply complete: 3 nodes converged\./);
    // Rolling: the two control-plane nodes were applied one after the other, each followed by the gate.
    t.match(
      r.stderr,
      /\[node1\] keepalived: [\s\S]*\[node1\] virtual IP 10\.88\.0\.200 held by node1[\s\S]*\[node2\] haproxy: /,
    );
    const again = await dryRun();
    t.equal(again.exitCode, 0, "the second run plans nothing");
    t.strictSame(
      again.report.plan.nodes.map((n) => n.changes.length),
      [0, 0, 0],
    );
  });

  t.test("lab ssh logs in as the admin user once root login is off, with sudo", async (t) => {
    const r = await operator([
      "lab",
      "ssh",
      "--name",
      NAME,
      "node2",
      "--",
      "sh",
      "-c",
      "'id -un; sudo -n id -un'",
    ]);
    t.equal(r.exitCode, 0, r.stderr);
    t.strictSame(r.stdout.trim().split("\n"), ["sysman", "root"]);
  });

  t.test("Docker answers on every node with the systemd cgroup driver; swap is off", async (t) => {
    for (const node of ["node1", "node2", "node3"]) {
      const r = await sshAdmin(
        lab,
        node,
        "docker info --format '{{.CgroupDriver}}'; systemctl is-enabled docker; grep -c '^/swapfile' /etc/fstab; grep -c '^# disabled by picotrader.*/swapfile' /etc/fstab",
      );
      t.strictSame(r.stdout.trim().split("\n"), ["systemd", "enabled", "0", "1"], node);
    }
    // A container cannot switch swap on (swapon needs the host's CAP_SYS_ADMIN), so an active swap
    // is only shown by the fixture table; here /proc/swaps is the host's, and has no entries.
    const swaps = await sshAdmin(lab, "node1", "tail -n +2 /proc/swaps | wc -l");
    t.equal(swaps.stdout.trim(), "0");
  });

  t.test(
    "exactly one control-plane node holds the virtual IP, behind ufw; the worker runs neither",
    async (t) => {
      await waitForHolder("node1");
      await new Promise((r) => setTimeout(r, 3000));
      t.strictSame(
        await holders(),
        ["node1"],
        "still one holder 3 s later: VRRP passes the firewall (no split brain)",
      );
      const fw = await sshAdmin(
        lab,
        "node2",
        "ufw status | head -1; iptables -S ufw-before-input | grep -c 'vrrp'",
      );
      t.strictSame(fw.stdout.trim().split("\n"), ["Status: active", "1"]);
      const worker = await sshAdmin(
        lab,
        "node3",
        `for p in haproxy keepalived; do printf '%s=%s\\n' "$p" "$(dpkg-query -W -f '\${db:Status-Abbrev}' "$p" 2>/dev/null | tr -d ' ')"; done; systemctl is-active haproxy keepalived`,
      );
      const status = Object.fromEntries(
        worker.stdout
          .split("\n")
          .filter((l) => l.includes("="))
          .map((l) => l.split("=")),
      ) as Record<string, string>;
      t.strictSame(Object.keys(status), ["haproxy", "keepalived"], "both packages were asked");
      t.notOk(status.haproxy === "ii" || status.keepalived === "ii", "the worker has neither package");
      t.match(worker.stdout, /inactive\ninactive/);
    },
  );

  t.test("VIP:6443 reaches HAProxy, which forwards to the stand-in API servers", async (t) => {
    for (const node of lab.nodes.slice(0, 2)) {
      const r = await sshAdmin(
        lab,
        node.name,
        `systemd-run --unit=stand-in-apiserver -p Restart=always python3 -c '${STAND_IN}' ${node.address} ${node.name}`,
      );
      t.equal(r.exitCode, 0, r.stdout + r.stderr);
    }
    // HAProxy marks a backend up after two good checks, 2 s apart.
    const served = new Set<string>();
    const start = Date.now();
    while (served.size < 2 && Date.now() - start < 20_000) {
      const name = await connectVip();
      if (name !== "") served.add(name);
      await new Promise((r) => setTimeout(r, 300));
    }
    t.strictSame([...served].sort(), ["node1", "node2"], "round robin over both API servers");
  });

  t.test(
    "failover: keepalived stopped on the holder moves the IP; HAProxy down on it does too",
    async (t) => {
      await sshAdmin(lab, "node1", "systemctl stop keepalived");
      const moved = await waitForHolder("node2");
      t.comment(`keepalived stopped on node1: node2 held ${VIP} after ${moved.toFixed(1)} s`);
      t.ok(moved < 10, "within a few seconds");
      t.match(await connectVip(), /^node[12]$/, "VIP:6443 answers again");
      // The next reconcile finds keepalived stopped and starts it; node1 (priority 150) takes the IP back.
      const drift = await dryRun();
      t.equal(drift.exitCode, 2);
      t.match(JSON.stringify(drift.report.plan.nodes[0]?.changes.map((c) => c.summary)), /start keepalived/);
      t.equal((await run("--yes")).exitCode, 0);
      await waitForHolder("node1");
      // HAProxy stopped by hand on the holder: its health check fails and keepalived gives the IP up.
      await sshAdmin(lab, "node1", "systemctl stop haproxy");
      const away = await waitForHolder("node2");
      t.comment(`HAProxy stopped on node1: node2 held ${VIP} after ${away.toFixed(1)} s`);
      t.equal((await run("--yes")).exitCode, 0, "reconcile starts HAProxy again");
      await waitForHolder("node1");
    },
  );

  t.test(
    "a rolling HAProxy change never leaves the virtual IP unanswered longer than a failover",
    async (t) => {
      writeFileSync(
        file,
        readFileSync(file, "utf8").replace("haproxy: {}", "haproxy:\n  balance: leastconn"),
      );
      const prober = startVipProber(lab);
      await new Promise((r) => setTimeout(r, 1000));
      const r = await run("--yes");
      await new Promise((r) => setTimeout(r, 1000));
      const probe = await prober.stop();
      t.equal(r.exitCode, 0, r.stdout + r.stderr);
      t.match(
        r.stderr,
        /\[node1\] haproxy: rewrite[\s\S]*\[node1\] virtual IP 10\.88\.0\.200 held by node1[\s\S]*\[node2\] haproxy: rewrite[\s\S]*\[node2\] virtual IP 10\.88\.0\.200 held by node1/,
        "one node at a time, each followed by the gate",
      );
      t.comment(
        `rolling apply: ${probe.answers} answers, ${probe.failures} failures, longest gap ${probe.longestGapMs} ms`,
      );
      t.ok(probe.answers > 10, "the prober ran through the apply");
      t.ok(probe.longestGapMs < 5000, `longest gap ${probe.longestGapMs} ms is under a failover's 5 s`);
      const conf = await sshAdmin(lab, "node2", "grep -c 'balance leastconn' /etc/haproxy/haproxy.cfg");
      t.equal(conf.stdout.trim(), "1");
    },
  );

  t.test(
    "drift: Docker stopped, a swap line back in fstab, haproxy.cfg edited: found and repaired",
    async (t) => {
      await sshAdmin(lab, "node3", "systemctl stop docker.socket docker");
      await sshAdmin(lab, "node2", "echo '/swapfile none swap sw 0 0' >> /etc/fstab");
      await sshAdmin(
        lab,
        "node1",
        "sed -i 's/6443 check inter 2s/6443 check inter 9s/' /etc/haproxy/haproxy.cfg",
      );
      const drift = await dryRun();
      t.equal(drift.exitCode, 2, "drift is exit 2");
      const summaries = drift.report.plan.nodes.map((n) =>
        n.changes.map((c) => `${c.concern}: ${c.summary}`),
      );
      t.equal(summaries.length, 3);
      t.matchOnly(summaries[0], [
        /^haproxy: rewrite \/etc\/haproxy\/haproxy\.cfg \(2 line\(s\) added, 2 removed\)/,
      ]);
      t.matchOnly(summaries[1], [/^swap: comment out 1 swap line\(s\) of \/etc\/fstab/]);
      t.matchOnly(summaries[2], [/^docker: start docker/]);
      const fixed = await run("--yes");
      t.equal(fixed.exitCode, 0, fixed.stdout + fixed.stderr);
      t.equal(
        (await sshAdmin(lab, "node2", "grep -c '^/swapfile' /etc/fstab || true")).stdout.trim(),
        "0",
        "node2: no active swap line in fstab",
      );
      t.match(
        (await sshAdmin(lab, "node2", "grep '/swapfile' /etc/fstab")).stdout,
        /^#.*\/swapfile none swap sw 0 0$/m,
        "node2: the line is kept, commented out",
      );
      t.equal(
        (await sshAdmin(lab, "node1", "grep -c 'inter 9s' /etc/haproxy/haproxy.cfg || true")).stdout.trim(),
        "0",
        "node1: haproxy.cfg has its declared check interval again",
      );
      const after = await dryRun();
      t.equal(after.exitCode, 0, "the second run plans nothing");
      t.equal((await sshAdmin(lab, "node3", "systemctl is-active docker")).stdout.trim(), "active");
    },
  );

  t.test("the VRRP password is never printed, and a missing one is a clear error", async (t) => {
    const r = await run("--dry-run", "--json");
    t.notMatch(r.stdout + r.stderr, /labvrrp/);
    const facts = await picotrader(lab, ["facts", "-f", file, "node1"]);
    t.notMatch(facts.stdout, /labvrrp/);
    t.match(facts.stdout, /auth_pass \(secret [0-9a-f]{8}\)/, "a stand-in keyed per run");
    t.notMatch(facts.stdout, /sha256:/, "no plain digest of the password");
    const missing = await picotrader(lab, ["reconcile", "-f", file, "--dry-run"], {
      PICOTRADER_VRRP_PASSWORD: "",
    });
    t.equal(missing.exitCode, 1);
    t.match(
      missing.stderr,
      /keepalived \(VRRP password\) needs the environment variable PICOTRADER_VRRP_PASSWORD/,
    );
  });

  t.test("the lab manifest as it is: raising node3's generation rebuilds it from node1's TFTP", async (t) => {
    t.match(
      readFileSync(file, "utf8"),
      /^tftp:\n {2}root: tftp$/m,
      "the lab manifest declares the TFTP server",
    );
    await sshAdmin(lab, "node3", "touch /root/made-before-the-rebuild");
    await sshAdmin(lab, "node1", "echo before > /mnt/shared/.picotrader-ha-mark");
    writeFileSync(
      file,
      readFileSync(file, "utf8").replace(
        /(name: node3\n.*\n {4}roles: \[[^\]]*\]\n)/,
        "$1    generation: 2\n",
      ),
    );
    const r = await run("--allow-rebuild", "--yes");
    t.equal(r.exitCode, 0, r.stdout + r.stderr);
    t.match(
      r.stderr,
      /\[node3\] rebooting to re-image\n\[node3\] back on a new boot\n\[node3\] rebuilt; observing the fresh node/,
    );
    const wiped = await sshAdmin(
      lab,
      "node3",
      "ls /root/made-before-the-rebuild 2>&1; grep '\"generation\"' /var/lib/picotrader/state.json; systemctl is-active docker",
    );
    t.match(wiped.stdout, /No such file or directory/, "node3 was wiped");
    t.match(wiped.stdout, /"generation": 2/, "it records the new generation");
    t.match(wiped.stdout, /^active$/m, "and runs Docker again");
    const second = await dryRun();
    t.equal(
      second.exitCode,
      0,
      `the second run plans nothing: ${second.report.plan.nodes.flatMap((n) => n.changes.map((c) => `${n.node}: ${c.summary}`)).join("; ")}`,
    );
    // The datastore: the rebuilt node's old etcd member was replaced by its new self.
    const health = await sshAdmin(
      lab,
      "node1",
      "ETCDCTL_API=3 ETCDCTL_CACERT=/etc/etcd/pki/ca.crt ETCDCTL_CERT=/etc/etcd/pki/node.crt ETCDCTL_KEY=/etc/etcd/pki/node.key etcdctl --endpoints=https://127.0.0.1:2379 endpoint health --cluster 2>&1",
    );
    t.equal((health.stdout.match(/is healthy/g) ?? []).length, 3, "node3 is an etcd member again");
    // The shared volume: the rebuilt node's new brick replaced its old one and was healed.
    const bricks = await sshAdmin(lab, "node1", "gluster volume info shared | grep '^Brick3'");
    t.match(
      bricks.stdout,
      /Brick3: 10\.88\.0\.13:\/data\/gluster\/shared-g2/,
      "node3's new brick is in the volume",
    );
    const files = await eventually(
      () =>
        sshAdmin(
          lab,
          "node3",
          "ls /mnt/shared/.picotrader-ha-mark /data/gluster/shared-g2/.picotrader-ha-mark",
        ),
      (r) => r.exitCode === 0,
      60_000,
      1000,
    );
    t.equal(
      files.exitCode,
      0,
      `node3 mounts the volume, and its new brick holds what was written before: ${files.stderr}`,
    );
  });
}
