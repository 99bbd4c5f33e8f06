// SSH the OpenSSH way, on real lab nodes: `picotrader trust` shows a node's key as ssh-keygen -l
// prints it and pins it only after a yes; a node not pinned yet says how to trust it; ~/.ssh/config's
// HostName, User, IdentityFile and ProxyJump are honoured; a login lets sshd's list of its host keys
// pass, without asking it to prove each one.
import { appendFileSync, copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { labManifest } from "../../src/lab/lab.js";
import { eventually, picotrader, sshNode, useLab } from "../helpers/lab.js";
import { tempDir } from "../helpers/temp.js";

const lab = await useLab(t, "tssh", 2);

if (lab) {
  const dir = tempDir(t, "ssh");
  const manifest = join(dir, "lab.yaml");
  writeFileSync(manifest, labManifest(lab, { runtime: false }));
  const [node1] = lab.nodes;
  /** The node's own ed25519 key, as its console shows it. */
  const consoleLine = async (node: string) =>
    (await sshNode(lab, node, "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub")).stdout.trim();

  t.test("trust: the fingerprint as ssh-keygen -l prints it, pinned only after a yes", async (t) => {
    const known = join(dir, "known_hosts");
    writeFileSync(known, "");
    const env = { PICOTRADER_KNOWN_HOSTS: known };
    const real = /^256 (SHA256:\S{43}) .* \(ED25519\)$/.exec(await consoleLine("node1"));
    t.ok(real, "the node's console shows its ed25519 key");
    const fingerprint = real?.[1] ?? "";

    const refused = await picotrader(lab, ["trust", "-f", manifest, "--yes"], env);
    t.equal(refused.exitCode, 1, "--yes without fingerprints pins nothing");
    t.match(refused.stdout, `node1: 256 ${fingerprint} node1 ${node1?.address} (ED25519): not pinned: --yes`);
    t.equal(readFileSync(known, "utf8"), "", "known_hosts is untouched");

    const wrong = await picotrader(
      lab,
      ["trust", "-f", manifest, "--yes", "--host-fingerprint", `node1=SHA256:${"A".repeat(43)}`, "node1"],
      env,
    );
    t.equal(wrong.exitCode, 1);
    t.match(wrong.stdout, /does NOT match the fingerprint you gave/);
    t.equal(readFileSync(known, "utf8"), "", "a wrong fingerprint pins nothing");

    const pinned = await picotrader(
      lab,
      ["trust", "-f", manifest, "--yes", "--host-fingerprint", `node1=${fingerprint}`, "node1"],
      env,
    );
    t.equal(pinned.exitCode, 0, pinned.stdout + pinned.stderr);
    t.match(pinned.stdout, `node1: 256 ${fingerprint} node1 ${node1?.address} (ED25519): pinned in ${known}`);
    t.match(
      readFileSync(known, "utf8"),
      new RegExp(`^${node1?.address.replaceAll(".", "\\.")} ssh-ed25519 AAAA`),
    );

    const again = await picotrader(lab, ["trust", "-f", manifest, "node1"], env);
    t.equal(again.exitCode, 0);
    t.match(again.stdout, /already trusted/);

    // node1 is reached; node2, never pinned, says how to trust it rather than "unreachable".
    const facts = await picotrader(lab, ["facts", "-f", manifest, "node1", "node2"], env);
    const out = JSON.parse(facts.stdout) as Record<string, { error?: string; identity?: string }>;
    t.match(out.node1?.identity, /^(sysman|root) \(/, "node1 answers over its pinned key");
    t.match(out.node2?.error, "host key not trusted yet", "node2 is not trusted yet");
    t.match(out.node2?.error, "run `picotrader trust node2`");
  });

  t.test("~/.ssh/config: HostName, User, IdentityFile and ProxyJump", async (t) => {
    // node1's manifest address is wrong on purpose: only the config's HostName reaches it. No key
    // but the config's IdentityFile (an empty home, no agent, no -i), no password to fall back on.
    const home = tempDir(t, "home");
    const shifted = join(dir, "shifted.yaml");
    writeFileSync(
      shifted,
      labManifest(lab, { runtime: false }).replace(`address: ${node1?.address}\n`, "address: 10.88.0.99\n"),
    );
    const config = join(dir, "ssh_config");
    writeFileSync(
      config,
      [
        "Host node1",
        `  HostName ${node1?.address}`,
        "Host node2",
        `  ProxyJump root@${node1?.address}`,
        "Host *",
        "  User root",
        `  IdentityFile ${lab.keyPath}`,
        "",
      ].join("\n"),
    );
    const env = {
      HOME: home,
      PICOTRADER_SSH_CONFIG: config,
      PICOTRADER_IDENTITY: "",
      SSH_AUTH_SOCK: "",
      PICOTRADER_BOOTSTRAP_PASSWORD: "",
    };
    const r = await picotrader(
      lab,
      ["exec", "-f", shifted, "--json", "--", 'echo "$SSH_CONNECTION"; id -un'],
      env,
    );
    t.equal(r.exitCode, 0, r.stdout + r.stderr);
    const outcomes = JSON.parse(r.stdout) as { node: string; stdout?: string }[];
    const lines = (name: string) => (outcomes.find((o) => o.node === name)?.stdout ?? "").trim().split("\n");
    t.equal(
      lines("node1")[0]?.split(" ")[0],
      lab.controllerAddress,
      "node1: reached at the config's HostName",
    );
    t.equal(lines("node1")[1], "root", "as the config's User, with its IdentityFile");
    t.equal(
      lines("node2")[0]?.split(" ")[0],
      node1?.address,
      "node2: the connection comes from node1, the ProxyJump host",
    );
    t.equal(lines("node2")[1], "root", "node2: as the config's User");
    t.match(
      await sshNode(lab, "node2", "echo"),
      { exitCode: 0 },
      "node2 still answers directly (the jump was the config's choice)",
    );
  });

  t.test("a login does not ask sshd to prove its host keys", async (t) => {
    // A second sshd on node1 (port 2222, the same host keys) that logs the protocol and serves one
    // connection (-ddd: debug level 3); `timeout` ends it should nothing connect.
    const log = "/run/picotrader-hostkeys.log";
    const pidFile = "/run/picotrader-hostkeys.pid";
    t.teardown(() => sshNode(lab, "node1", `kill "$(cat ${pidFile})" 2>/dev/null; rm -f ${log} ${pidFile}`));
    const started = await sshNode(
      lab,
      "node1",
      `rm -f ${log}; setsid -f sh -c 'echo $$ > ${pidFile}; exec timeout 60 /usr/sbin/sshd -ddd -p 2222 -E ${log}' </dev/null >/dev/null 2>&1
       for i in $(seq 100); do grep -q 'Server listening' ${log} 2>/dev/null && exit 0; sleep 0.1; done; cat ${log}; exit 1`,
    );
    t.equal(started.exitCode, 0, `the second sshd listens: ${started.stdout}${started.stderr}`);
    const known = join(dir, "known_hosts_2222");
    copyFileSync(lab.knownHostsPath, known);
    const line = readFileSync(lab.knownHostsPath, "utf8")
      .split("\n")
      .find((l) => l.startsWith(`${node1?.address} `));
    appendFileSync(known, `${line?.replace(`${node1?.address} `, `[${node1?.address}]:2222 `)}\n`);
    const config = join(dir, "ssh_config_2222");
    writeFileSync(
      config,
      `Host node1\n  HostName ${node1?.address}\n  Port 2222\n  User root\n  IdentityFile ${lab.keyPath}\n`,
    );
    const r = await picotrader(lab, ["exec", "-f", manifest, "--only", "node1", "--", "true"], {
      PICOTRADER_SSH_CONFIG: config,
      PICOTRADER_KNOWN_HOSTS: known,
    });
    t.equal(r.exitCode, 0, r.stdout + r.stderr);
    const seen = await eventually(
      async () => (await sshNode(lab, "node1", `cat ${log}`)).stdout,
      (text) =>
        /notify_hostkeys: sent \d+ hostkeys/.test(text) && /Closing connection|Connection closed/.test(text),
      10_000,
    );
    t.match(seen, /notify_hostkeys: sent \d+ hostkeys/, "sshd listed its host keys after the login");
    t.notMatch(seen, /hostkeys-prove-00@openssh\.com/, "and was asked to prove none of them");
  });
}
