// The controller as a service, on a lab node that has systemd: `install-service` makes its user and
// its hardened unit, the unit starts, watch converges the other nodes from its own clone, and the
// service survives a restart of itself and a reboot of its host. node1 is the controller's host;
// node2 and node3 are the cluster it keeps.
import { readFileSync } from "node:fs";
import t, { type Test } from "tap";
import { BOOT_MARK } from "../../src/engine/reboot.js";
import { labManifest } from "../../src/lab/lab.js";
import { shellQuote } from "../../src/transport/quote.js";
import { eventually, sshAdmin, sshNode, useLab } from "../helpers/lab.js";

const lab = await useLab(t, "tsvc", 3);
if (lab) {
  const [host] = lab.nodes;
  const HOME = "/var/lib/picotrader-controller";
  const CLONE = `${HOME}/cluster`;
  const cli = "/usr/local/bin/node /opt/picotrader/dist/bin/picotrader.js";
  /** A command as root on the controller's host (node1, never reconciled: root keeps its key login). */
  const onHost = (command: string) => sshNode(lab, "node1", command);
  const must = async (command: string) => {
    const r = await onHost(command);
    if (r.exitCode !== 0) throw new Error(`${command}: exit ${r.exitCode}: ${r.stderr}${r.stdout}`);
    return r.stdout.trim();
  };
  const writeOnHost = (path: string, text: string, mode = "0644") =>
    must(
      `printf %s ${Buffer.from(text).toString("base64")} | base64 -d > ${path}.tmp && chmod ${mode} ${path}.tmp && mv ${path}.tmp ${path}`,
    );
  const recorded = async (node: string) => {
    const r = await sshAdmin(lab, node, "cat /var/lib/picotrader/state.json");
    return r.exitCode === 0 ? (JSON.parse(r.stdout) as { commit?: string; result: string }) : undefined;
  };
  // The cluster without its controller's host, which is the workstation.
  const manifest = labManifest(lab, { runtime: false })
    .replace(`  address: ${lab.controllerAddress}\n`, `  address: ${host?.address}\n`)
    .replace(`  - name: node1\n    address: ${host?.address}\n    roles: [control-plane]\n`, "");

  // The later tests need a running service: without one they fail at once instead of waiting.
  let started = false;
  const needsService = (t: Test) => {
    if (!started) t.fail("the service was not started by the first test");
    return started;
  };

  t.test("install-service: its own user, its own clone, a hardened unit that starts", async (t) => {
    t.notMatch(manifest, /name: node1/, "node1 is not in the manifest it keeps");
    await must(
      "apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends git >/dev/null",
    );
    await must("mkdir -p /srv/cluster && git -C /srv/cluster init -q -b main");
    await writeOnHost("/srv/cluster/cluster.yaml", manifest);
    await must(
      "cd /srv/cluster && git add cluster.yaml && git -c user.name=op -c user.email=op@example.invalid commit -q -m 'the cluster' && git clone -q --bare /srv/cluster /srv/cluster.git",
    );

    // A repository that is not the service user's is refused, with the command that fixes it.
    const refused = await onHost(`${cli} install-service -f /srv/cluster/cluster.yaml --interval 5s`);
    t.equal(refused.exitCode, 1);
    t.match(refused.stderr, `error: /srv/cluster does not belong to picotrader, who runs the service`);
    t.match(refused.stderr, `sudo -u picotrader git clone URL ${CLONE}`);
    t.equal(
      await must("getent passwd picotrader | cut -d: -f6,7"),
      `${HOME}:/usr/sbin/nologin`,
      "the user was made",
    );

    await must("git config --system --add safe.directory /srv/cluster.git");
    await must(`sudo -u picotrader git clone -q /srv/cluster.git ${CLONE}`);
    // The controller's key and the pins of its nodes, made the README's way: picotrader trust.
    await must(`install -d -m 0700 -o picotrader -g picotrader ${HOME}/.ssh`);
    await writeOnHost(`${HOME}/.ssh/id_ed25519`, readFileSync(lab.keyPath, "utf8"), "0600");
    await must(`chown picotrader: ${HOME}/.ssh/id_ed25519`);
    const fingerprints: string[] = [];
    for (const node of ["node2", "node3"]) {
      const line = (await sshNode(lab, node, "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub")).stdout;
      fingerprints.push("--host-fingerprint", `${node}=${line.split(" ")[1]}`);
    }
    const trusted = await onHost(
      `sudo -u picotrader env HOME=${HOME} ${cli} trust -f ${CLONE}/cluster.yaml --yes ${fingerprints.map(shellQuote).join(" ")}`,
    );
    t.equal(trusted.exitCode, 0, trusted.stdout + trusted.stderr);
    t.match(trusted.stdout, /node2: 256 SHA256:\S+ node2 \S+ \(ED25519\): pinned/);

    const installed = await onHost(`${cli} install-service -f ${CLONE}/cluster.yaml --interval 5s`);
    t.equal(installed.exitCode, 0, installed.stderr);
    t.match(installed.stdout, `runs as picotrader, home ${HOME}, repository ${CLONE}`);
    t.notMatch(installed.stdout, /missing:/, "the key and known_hosts are in place");
    const score = await must("systemd-analyze security --no-pager picotrader.service | tail -n 1");
    t.match(score, /Overall exposure level for picotrader\.service: [0-3]\.\d/, score);
    await must("systemctl daemon-reload && systemctl enable --now picotrader");
    const state = await eventually(
      async () => {
        const show = (p: string) => must(`systemctl show picotrader -p ${p} --value`);
        return `${await show("User")} ${await show("ActiveState")} ${await show("SubState")}`;
      },
      (s) => s === "picotrader active running",
      20_000,
    );
    t.equal(
      state,
      "picotrader active running",
      (
        await onHost(
          "systemctl status picotrader --no-pager; journalctl -u picotrader --no-pager | tail -n 30",
        )
      ).stdout,
    );
    started = state === "picotrader active running";
  });

  t.test("the service's watch converges the other nodes and records its commit", async (t) => {
    if (!needsService(t)) return;
    const head = await must(`git -C /srv/cluster rev-parse HEAD`);
    for (const node of ["node2", "node3"]) {
      const rec = await eventually(
        () => recorded(node),
        (r) => r?.commit === head && r.result === "converged",
        180_000,
      );
      t.equal(rec?.commit, head, `${node} records ${head}`);
    }
    const journal = await must("journalctl -u picotrader --no-pager -o cat | tail -n 40");
    t.match(
      journal,
      /^\d{4}-\d\d-\d\dT\S+ watching \/var\/lib\/picotrader-controller\/cluster\/cluster\.yaml/m,
    );
    t.equal(await must("ps -o user= -C node | sort -u"), "picotrader", "watch runs as picotrader, not root");
  });

  t.test("the service survives a restart of itself", async (t) => {
    if (!needsService(t)) return;
    const before = await must("systemctl show picotrader -p MainPID --value");
    await must("systemctl restart picotrader");
    const after = await eventually(
      () => must("systemctl show picotrader -p MainPID,ActiveState --value | paste -sd ' '"),
      (s) => s.endsWith(" active") && !s.startsWith(`${before} `) && !s.startsWith("0 "),
      20_000,
    );
    t.match(after, / active$/, `running again (${after})`);
  });

  t.test("and a reboot of its host; it goes on repairing drift", async (t) => {
    if (!needsService(t)) return;
    const boot = await must(BOOT_MARK);
    await onHost("systemctl reboot");
    const again = await eventually(
      async () => (await onHost(BOOT_MARK)).stdout.trim(),
      (b) => b !== "" && b !== boot,
      120_000,
    );
    t.not(again, boot, "node1 came back on a new boot");
    const active = await eventually(
      async () => (await onHost("systemctl is-active picotrader")).stdout.trim(),
      (s) => s === "active",
      60_000,
    );
    t.equal(active, "active", "the service started with its host");
    await sshAdmin(lab, "node3", "sysctl -q -w net.ipv4.ip_forward=0");
    const value = await eventually(
      async () => (await sshAdmin(lab, "node3", "sysctl -n net.ipv4.ip_forward")).stdout.trim(),
      (v) => v === "1",
      90_000,
    );
    t.equal(value, "1", "drift on node3 repaired by the service after the reboot");
  });
}
