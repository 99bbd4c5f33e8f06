import { ConnectError, UnreachableError } from "../errors.js";
import type { ExecResult, Session, SessionStats, Transport } from "./session.js";
import { probeSectionNames, renderProbeAnswer } from "./probe.js";

/** What a concern's probe "prints" on a fake node. */
export interface FakeProbeAnswer {
  stdout: string;
  exitCode?: number;
  stderr?: string;
}

/** A scripted node: probe answers per round (the last round repeats) and the commands it accepts. */
export interface FakeNode {
  /** Round n answers the n-th batched probe; each maps concern -> answer. */
  probeRounds: Record<string, FakeProbeAnswer>[];
  /** Accepted commands (matched against the whole command); anything else fails the test. A
   * function as stdout answers each call anew (a node whose state changes as steps run). */
  commands?: { match: RegExp; exitCode?: number; stdout?: string | (() => string); stderr?: string }[];
  /** When set, connecting fails with this message. */
  unreachable?: string;
  /** When set, the access proof (a new login as the admin user) is refused with this message. */
  proofRefused?: string;
}

/**
 * A scripted fake transport for unit tests. It answers the batched probe from canned facts and
 * accepts only the commands it was told about: a probe or step that runs anything else throws.
 * Every exec is recorded, with its standard input, in `log`.
 */
export class FakeTransport implements Transport {
  readonly log: { node: string; command: string; stdin?: string; stdinFile?: string }[] = [];
  readonly stats = new Map<string, SessionStats>();

  constructor(private readonly nodes: Record<string, FakeNode>) {}

  connect(node: { name: string }, as?: { user: string }): Promise<Session> {
    const fake = this.nodes[node.name];
    const stats = this.stats.get(node.name) ?? { connections: 0, execs: 0 };
    this.stats.set(node.name, stats);
    stats.connections++;
    if (!fake) return Promise.reject(new Error(`FakeTransport: no fake node ${node.name}`));
    if (fake.unreachable) return Promise.reject(new UnreachableError(node.name, fake.unreachable));
    if (as) {
      this.log.push({ node: node.name, command: `(proof: new login as ${as.user})` });
      if (fake.proofRefused) return Promise.reject(new ConnectError(node.name, fake.proofRefused));
      return Promise.resolve({
        node: node.name,
        identity: `${as.user} (key)`,
        stats,
        exec: (command) => Promise.resolve({ command, exitCode: 0, stdout: "", stderr: "", durationMs: 0 }),
        close: () => Promise.resolve(),
      });
    }
    let round = 0;
    const log = this.log;
    const session: Session = {
      node: node.name,
      identity: "fake (key)",
      stats,
      exec(command, options = {}): Promise<ExecResult> {
        stats.execs++;
        log.push({
          node: node.name,
          command,
          ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
          ...(options.stdinFile === undefined ? {} : { stdinFile: options.stdinFile }),
        });
        const base = { command, durationMs: 0 };
        if (command === "sh -s") {
          const answers = fake.probeRounds[Math.min(round++, fake.probeRounds.length - 1)] ?? {};
          const nonce = /@@([0-9a-f]+) begin/.exec(options.stdin ?? "")?.[1];
          const names = probeSectionNames(options.stdin ?? "");
          if (!nonce) throw new Error("FakeTransport: sh -s without a batched probe");
          const stdout = names
            .map((name) => {
              // The engine's own sections (the record, the dead-man log) are empty unless told.
              const a = answers[name] ?? (name.startsWith("@") ? { stdout: "" } : undefined);
              if (!a) throw new Error(`FakeTransport: ${node.name} has no probe answer for ${name}`);
              return renderProbeAnswer(nonce, name, {
                exitCode: a.exitCode ?? 0,
                stdout: a.stdout,
                stderr: a.stderr ?? "",
              });
            })
            .join("");
          return Promise.resolve({ ...base, exitCode: 0, stdout, stderr: "" });
        }
        const accepted = fake.commands?.find((c) => c.match.test(command));
        if (!accepted) throw new Error(`FakeTransport: ${node.name} was not told about command: ${command}`);
        return Promise.resolve({
          ...base,
          exitCode: accepted.exitCode ?? 0,
          stdout: typeof accepted.stdout === "function" ? accepted.stdout() : (accepted.stdout ?? ""),
          stderr: accepted.stderr ?? "",
        });
      },
      close: () => Promise.resolve(),
    };
    return Promise.resolve(session);
  }
}
