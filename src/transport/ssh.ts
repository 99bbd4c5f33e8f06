import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { NodeSSH } from "node-ssh";
import { ConnectError, HostKeyError } from "../errors.js";
import { keysFor, knownHostName, parseKnownHosts } from "./known-hosts.js";
import { shellQuote } from "./quote.js";
import type { ExecResult, Session, SessionStats, Transport } from "./session.js";

/** How to log in. Secrets stay here: nothing of this is ever printed. */
export interface SshOptions {
  /** The admin user tried first; root is the fallback of the ladder. */
  adminUser: string;
  /** Private key file; undefined: the ssh-agent (SSH_AUTH_SOCK) or ~/.ssh/id_ed25519. */
  identityFile?: string;
  knownHostsFile: string;
  /** Record the key of a host that known_hosts does not list yet (never replaces a pinned one). */
  acceptNewHostKeys: boolean;
  readyTimeoutMs?: number;
}

/** Reads SshOptions' defaults from the environment (PICOTRADER_IDENTITY, PICOTRADER_KNOWN_HOSTS). */
export function sshOptionsFromEnv(adminUser: string, acceptNewHostKeys = false): SshOptions {
  const defaultKey = join(homedir(), ".ssh", "id_ed25519");
  return {
    adminUser,
    identityFile:
      process.env.PICOTRADER_IDENTITY ??
      (process.env.SSH_AUTH_SOCK ? undefined : existsSync(defaultKey) ? defaultKey : undefined),
    knownHostsFile: process.env.PICOTRADER_KNOWN_HOSTS ?? join(homedir(), ".ssh", "known_hosts"),
    acceptNewHostKeys,
  };
}

/**
 * The SSH transport (node-ssh). One connection per node per run; host keys pinned in the
 * known_hosts file; identity ladder: the admin user with the key, then root with the key.
 */
export class SshTransport implements Transport {
  constructor(private readonly options: SshOptions) {}

  async connect(node: { name: string; address: string; sshPort?: number }): Promise<Session> {
    const port = node.sshPort ?? 22;
    const stats: SessionStats = { connections: 0, execs: 0 };
    const pinned = existsSync(this.options.knownHostsFile)
      ? keysFor(parseKnownHosts(readFileSync(this.options.knownHostsFile, "utf8")), node.address, port)
      : [];
    if (pinned.length === 0 && !this.options.acceptNewHostKeys) {
      throw new HostKeyError(
        node.name,
        `no host key for ${knownHostName(node.address, port)} in ${this.options.knownHostsFile}; check the node's key and add it, or run once with --accept-new-host-keys`,
      );
    }
    const failures: string[] = [];
    for (const user of [...new Set([this.options.adminUser, "root"])]) {
      let rejectedKey: string | undefined;
      let learnedKey: string | undefined;
      const ssh = new NodeSSH();
      stats.connections++;
      try {
        await ssh.connect({
          host: node.address,
          port,
          username: user,
          readyTimeout: this.options.readyTimeoutMs ?? 10_000,
          ...(this.options.identityFile
            ? { privateKeyPath: this.options.identityFile }
            : { agent: process.env.SSH_AUTH_SOCK }),
          ...(pinned.length > 0
            ? { algorithms: { serverHostKey: [...new Set(pinned.map((k) => k.keyType))] as never } }
            : {}),
          hostVerifier: (key: Buffer) => {
            const presented = key.toString("base64");
            if (pinned.length === 0) {
              learnedKey = presented;
              return true;
            }
            if (pinned.some((k) => k.key === presented)) return true;
            rejectedKey = presented;
            return false;
          },
        });
      } catch (err) {
        ssh.dispose();
        if (rejectedKey !== undefined) {
          throw new HostKeyError(
            node.name,
            `host key of ${node.address} has CHANGED (not the one pinned in ${this.options.knownHostsFile}); if the node was re-imaged, remove its old line there`,
            { cause: err },
          );
        }
        const message = (err as Error).message;
        if (!/authentication/i.test(message)) {
          throw new ConnectError(node.name, `cannot connect to ${node.address}:${port}: ${message}`, {
            cause: err,
          });
        }
        failures.push(`${user}: ${message}`);
        continue;
      }
      if (learnedKey !== undefined) {
        const blob = Buffer.from(learnedKey, "base64");
        const type = blob.subarray(4, 4 + blob.readUInt32BE(0)).toString();
        appendFileSync(
          this.options.knownHostsFile,
          `${knownHostName(node.address, port)} ${type} ${learnedKey}\n`,
        );
      }
      return new SshSession(node.name, `${user} (key)`, user, ssh, stats);
    }
    throw new ConnectError(node.name, `no identity was accepted (${failures.join("; ")})`);
  }
}

class SshSession implements Session {
  constructor(
    readonly node: string,
    readonly identity: string,
    private readonly user: string,
    private readonly ssh: NodeSSH,
    readonly stats: SessionStats,
  ) {}

  async exec(command: string, options: { stdin?: string } = {}): Promise<ExecResult> {
    const remote = this.user === "root" ? command : `sudo -n sh -c ${shellQuote(command)}`;
    const started = Date.now();
    this.stats.execs++;
    const result = await this.ssh.execCommand(remote, {
      noTrim: true,
      ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
    });
    return {
      command,
      exitCode: result.code ?? (result.signal ? 128 : 1),
      stdout: result.stdout,
      stderr: result.stderr,
      durationMs: Date.now() - started,
    };
  }

  close(): Promise<void> {
    this.ssh.dispose();
    return Promise.resolve();
  }
}
