// `picotrader trust [NODE...]`: shows each node's host key as `ssh-keygen -l` prints it and pins it
// in known_hosts after a yes: the onboarding step of a new board, before its first reconcile.
import type { Command } from "commander";
import { connectionOptions, example, fileOption, type ConnectionFlags, type Finish } from "./options.js";

interface TrustFlags extends ConnectionFlags {
  file: string;
  yes: boolean;
}

export function defineTrust(program: Command, finish: Finish): void {
  connectionOptions(
    program
      .command("trust")
      .description("show each node's host key fingerprint and pin it in known_hosts after a yes")
      .argument("[nodes...]", "only these nodes (default: all)")
      .addOption(fileOption())
      .option(
        "--yes",
        "pin without asking, only keys whose fingerprint was given (--host-fingerprint, nodes[].hostKeyFingerprint)",
        false,
      ),
  )
    .addHelpText(
      "after",
      example(
        "picotrader trust node1",
        "picotrader trust --yes --host-fingerprint node1=SHA256:... # as on the board's console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub",
      ),
    )
    .action(async (names: string[], flags: TrustFlags) => {
      const { loadManifest } = await import("../manifest/validate.js");
      const { selectNodes } = await import("../engine/planner.js");
      const { sshOptionsFromEnv, readKnownHostEntries, readPresentedHostKey, writeHostKeyPin } =
        await import("../transport/ssh.js");
      const { hostKeyPolicy } = await import("../transport/known-hosts.js");
      const { resolveSshTarget } = await import("../transport/ssh-config.js");
      const { readHostTrust, judgeHostKey, describeHostKey } = await import("../trust.js");
      const { confirm } = await import("../prompt.js");
      const m = loadManifest(flags.file);
      const nodes = selectNodes(m, names.length > 0 ? names : undefined);
      const trust = readHostTrust(m, flags.hostFingerprint);
      const ssh = sshOptionsFromEnv(m.admin.user, false, undefined, trust);
      const given = { ...ssh.confirmedFingerprints };
      let failed = 0;
      for (const node of nodes) {
        const say = (line: string) => process.stdout.write(`${node.name}: ${line}\n`);
        // Where the transport will connect (ssh_config's HostName and Port): the key is pinned there.
        const target = resolveSshTarget(ssh.sshConfig, node);
        const { host, port } = target;
        if (target.jump) {
          say(
            `reached through ProxyJump ${target.jump.host}: trust does not go through a jump host; pin ${host}'s key from the jump host (ssh-keyscan there, checked on the console)`,
          );
          failed++;
          continue;
        }
        let key;
        try {
          key = await readPresentedHostKey({ name: node.name, address: host, sshPort: port });
        } catch (err) {
          say(`unreachable: ${(err as Error).message}`);
          failed++;
          continue;
        }
        const policy = hostKeyPolicy(readKnownHostEntries(ssh), host, port);
        const line = describeHostKey(key, `${node.name} ${host}`);
        const verdict = judgeHostKey(policy, key, given[node.name]);
        switch (verdict.kind) {
          case "pinned":
            say(`${line}: already trusted`);
            continue;
          case "revoked":
            say(`${line}: REVOKED in known_hosts: not trusted`);
            failed++;
            continue;
          case "changed":
            say(
              `${line}: CHANGED: known_hosts pins another key for ${host}; if the board was re-imaged, remove its old line (ssh-keygen -R ${host}) and run trust again`,
            );
            failed++;
            continue;
          case "differs-from-given":
            say(`${line}: does NOT match the fingerprint you gave (${verdict.given}): not trusted`);
            failed++;
            continue;
          case "matches-given":
          case "unconfirmed": {
            const yes =
              verdict.kind === "matches-given"
                ? flags.yes || (await confirm(`${line}: matches the fingerprint you gave. Pin it?`))
                : !flags.yes &&
                  (await confirm(
                    `${line}\n  Is this the board's key (on its console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub)? Pin it?`,
                  ));
            if (!yes) {
              say(
                flags.yes
                  ? `${line}: not pinned: --yes pins only a key whose fingerprint you gave (--host-fingerprint ${node.name}=SHA256:...)`
                  : `${line}: not pinned${process.stdin.isTTY ? "" : " (no terminal to ask: pass --yes --host-fingerprint " + node.name + "=SHA256:...)"}`,
              );
              failed++;
              continue;
            }
            writeHostKeyPin(ssh.knownHostsFile, host, port, key.key);
            say(`${line}: pinned in ${ssh.knownHostsFile}`);
          }
        }
      }
      finish(failed > 0 ? 1 : 0);
    });
}
