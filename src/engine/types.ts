import type { Manifest, NodeSpec } from "../manifest/types.generated.js";
import type { DiffEntry } from "./diff.js";
import type { RunDiagnostic } from "./diagnostics.js";
import type { DeadmanRestore, NodeRecord } from "./record.js";
import type { EtcdPki } from "../pki.js";

export type { Manifest, NodeSpec };

/** What a change may put at stake; drives guards and confirmation in the engine, never in plugins. */
export type Risk = "access" | "restart" | "reboot" | "destroy";

/**
 * One remote action of a change, idempotent. Plain data: the plan shows it, apply runs it.
 * - run: a POSIX sh command run as root.
 * - write: a whole file, written atomically (temp file + rename) with mode and owner, old one backed up.
 * - reboot: the node reboots; the engine waits for its new boot and goes on over a new connection.
 */
export type Step =
  | { kind: "run"; command: string }
  | {
      kind: "reboot";
      /** A command whose success means the reboot is needed (e.g. after upgrades); without it, always. */
      onlyIf?: string;
    }
  | {
      kind: "write";
      path: string;
      content: string;
      mode: string;
      owner: string;
      group: string;
      /** Run on the temp file (as `$1`) before it replaces the target; non-zero aborts the write. */
      validate?: string;
      /** The content holds a secret: reports show its length only. */
      sensitive?: boolean;
      /**
       * Copy this file of the controller's instead of `content` (left empty): it is read when the
       * step runs and may be binary. The plan stays pure and shows the path.
       */
      from?: string;
      /** Give the new file this modification time (whole seconds since the epoch). */
      mtime?: number;
    };

/** What a plugin's plan() returns: a change of one concern on one node, before the engine adds who and where. */
export interface ChangeDraft {
  /** One line for people: "hostname odroid64-1 -> node1". */
  summary: string;
  /** The observed part that differs (display only). */
  before: unknown;
  /** The desired part that differs (display only). */
  after: unknown;
  steps: Step[];
  /** What the change does to the thing it owns, for people: default "update". */
  action?: "create" | "update" | "remove";
  risk?: Risk;
  /** Required with risk "access": what to save before the change and how to undo it. */
  guard?: Guard;
}

/**
 * How the engine undoes an access change: the paths it may touch are saved before it runs and put
 * back on rollback (a path that did not exist is removed), then `reactivate` makes the old
 * files take effect again (reload sshd, re-enable ufw...).
 */
export interface Guard {
  paths: string[];
  reactivate: string[];
}

/** How a plan shows a change: its action, or a reboot, or a rebuild (they outweigh the action). */
export type ChangeKind = "create" | "update" | "remove" | "reboot" | "rebuild";

/** The kind of a change: a rebuild (risk destroy), a reboot (a reboot step), else its action. Pure. */
export function changeKind(c: ChangeDraft): ChangeKind {
  if (c.risk === "destroy") return "rebuild";
  if (c.steps.some((s) => s.kind === "reboot")) return "reboot";
  return c.action ?? "update";
}

/**
 * What this run does with a change, decided once when the plan is made (decideDispositions()) and
 * read by everything after it: the approval, the apply, the rolling gate, reports and exit codes.
 * - apply: it runs (once approved).
 * - withheld: a policy keeps it pending and visible (a rebuild without --allow-rebuild, a reboot in
 *   watch mode); not an error.
 * - suspended: the manifest suspends the node or the cluster.
 * - refused: it must not run now (say, a rebuild that could take the last holder of the virtual
 *   IP); an error of the run.
 */
export type Disposition =
  | { kind: "apply" }
  | { kind: "withheld"; reason: string }
  | { kind: "suspended" }
  | { kind: "refused"; reason: string };

/** A change in a plan: the draft with its concern and node, and the diff of before and after. */
export interface Change extends ChangeDraft {
  concern: string;
  node: string;
  diff: DiffEntry[];
  disposition: Disposition;
}

/**
 * Secrets the controller read from its environment, by variable name (e.g. the VRRP password).
 * Never in the manifest; a change whose steps carry one marks them `sensitive`.
 */
export type Secrets = Readonly<Record<string, string>>;

/** A file of the controller's that a concern puts on nodes (e.g. the TFTP server's files). */
export interface LocalFile {
  /** Absolute path on the controller. */
  path: string;
  sha256: string;
  size: number;
  /** Modification time, whole seconds since the epoch: copies on nodes are given the same. */
  mtime: number;
}

/**
 * What the controller read for this run besides the manifest: the secrets it names, and the files
 * under `tftp.root` by path relative to it. Read once per run, before any connection.
 */
export interface Inputs {
  secrets: Secrets;
  files: Readonly<Record<string, LocalFile>>;
  /** The parts of the node image, from `c2/SHA256SUMS` under `tftp.root`, in order; [] without one. */
  imageParts: readonly { name: string; sha256: string }[];
  /** The bytes every part but the last was cut to (c2/PARTSIZE): part i lies at i × partSize. */
  partSize: number;
  /** The etcd CA's certificate and each etcd node's certificate and key; undefined without etcd. */
  etcdPki?: EtcdPki;
}

/** No secrets, no files. */
export const NO_INPUTS: Inputs = { secrets: {}, files: {}, imageParts: [], partSize: 0 };

/**
 * A reconciler plugin: one concern (hostname, hosts, ...). desired(), parse() and plan() are pure;
 * probe() returns a read-only POSIX sh script whose output parse() reads.
 */
export interface Reconciler<D = unknown, O = unknown> {
  name: string;
  /** Concerns that must be applied first on the same node. */
  after?: string[];
  /**
   * Its "restart" changes may move the virtual IP: the engine applies them one node at a time and
   * starts the next node only when exactly one node holds the virtual IP again.
   */
  rolling?: boolean;
  applies(node: NodeSpec, m: Manifest): boolean;
  /** `inputs.secrets` holds every variable that `requiredSecrets()` names for the manifest. */
  desired(node: NodeSpec, m: Manifest, inputs: Inputs): D;
  /** A function of the desired value so that a probe reads only what this node needs. */
  probe(desired: D): string;
  /**
   * The systemd units whose state the probe reads with `unit_state NAME` (buildUnitStatePrelude):
   * the engine asks systemd for all of a node's declared units at once, before the probes run.
   */
  units?: string[];
  /** Units whose names come from the manifest (a mount unit), declared the same way. */
  unitsFor?(desired: D): string[];
  /**
   * The files the probe reads with \`file_text PATH\` or \`file_read PATH\` (buildFileTablePrelude):
   * the engine reads all of a node's declared files with one process, before the probes run.
   */
  files?: string[];
  /** Files whose paths come from the manifest or the desired value, declared the same way. */
  filesFor?(desired: D): string[];
  parse(output: string): O;
  /**
   * [] when converged. `peers`: this concern's facts on the other nodes it applies to, by node name,
   * as this run observed them (undefined: not observed: unreachable, unknown, or outside --only).
   * Only a concern that spans nodes (an etcd member joining its cluster) reads them.
   */
  plan(desired: D, observed: O, peers: Peers<O>): ChangeDraft[];
  /**
   * What of the facts a saved plan compares; default: all of them. Facts that move by themselves
   * (an age in seconds) are reduced to what plan() reads from them.
   */
  stableFacts?(observed: O): unknown;
}

/** Observed facts of one node: per concern, the parsed value or why it is unknown. */
export type Facts = Record<string, { ok: true; value: unknown } | { ok: false; error: string }>;

/** A concern's facts on other nodes, by node name; undefined: not observed in this run. */
export type Peers<O = unknown> = Readonly<Record<string, O | undefined>>;

/** Every observed node's facts in this run, by node name (the plan's view of the cluster). */
export type ClusterFacts = ReadonlyMap<string, Facts>;

/**
 * What a plan knows of a node: `converged`, `pending` (changes to make), or `unknown` (unreachable,
 * or some concern's facts could not be read: never taken for converged).
 */
export type NodeState = "converged" | "pending" | "unknown";

/** The plan for one node. */
export interface NodePlan {
  node: string;
  address: string;
  /** planned: facts were gathered (maybe with unknown concerns); unreachable: no connection. */
  status: "planned" | "unreachable";
  /** Decided once, when the plan is made (nodeState()); every report reads it. */
  state: NodeState;
  /** Concerns whose facts are unknown (their diagnostics say why); absent when none. */
  unknown?: string[];
  /** The login used, e.g. "sysman (key)"; undefined when unreachable. */
  identity?: string;
  /** Why the node is unreachable, or why some concerns' facts are unknown. */
  diagnostics: RunDiagnostic[];
  changes: Change[];
  /** What the node records of the last apply (display only). */
  recorded?: NodeRecord;
  /** Why the node's record could not be read. */
  recordError?: string;
  /** Per concern, the digest of the facts its part of this plan was built on (saved plans compare them). */
  facts?: Record<string, string>;
  /** Restores the dead-man timer made on the node since its last converged apply. */
  restored?: DeadmanRestore[];
}

/** A plan: plain, JSON-serialisable data. Dry-run renders it; apply runs exactly it. */
export interface Plan {
  cluster: string;
  createdAt: string;
  /** sha256 of the manifest's bytes, when the run read it from a file. */
  manifestDigest?: string;
  /** The manifest's Git commit ("<sha>", "<sha>+dirty"); undefined outside Git. */
  manifestCommit?: string;
  nodes: NodePlan[];
}
