import type { ApplyPolicy } from "../engine/dispositions.js";
import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { watch as watchFile } from "chokidar";
import { simpleGit } from "simple-git";
import type { Inputs, Reconciler } from "../engine/types.js";
import { reconcile } from "../engine/reconcile.js";
import { describeDiagnostic } from "../engine/diagnostics.js";
import type { NodeResult } from "../engine/results.js";
import { ManifestError, PicoError } from "../errors.js";
import { parseManifestSource } from "../manifest/load.js";
import { readInputs } from "../manifest/inputs.js";
import type { Manifest } from "../manifest/types.generated.js";
import { validateManifest } from "../manifest/validate.js";
import { SessionPool } from "../transport/pool.js";
import type { Transport } from "../transport/session.js";
import { readCommittedManifest, readManifestCommit, readRefPaths } from "./git.js";

export interface WatchOptions {
  file: string;
  intervalMs: number;
  /** Fetch the tracked branch from its remote on every interval and fast-forward to it. */
  fetch: boolean;
  transport: (m: Manifest) => Transport;
  reconcilers: Reconciler[];
  concurrency: number;
  deadmanSeconds: number;
  /** Apply the file as saved, uncommitted edits included; default: the commit HEAD points to. */
  allowDirty: boolean;
  log: (line: string) => void;
}

/** Changes watch mode never applies: they stay pending and visible in the plan. */
export const WITHHELD_IN_WATCH: ApplyPolicy["withhold"] = {
  reboot: "watch mode does not reboot nodes (watch.applyDisruptive: true allows it)",
  destroy: "watch mode does not rebuild nodes (watch.applyDisruptive: true allows it)",
};

/** Parses "30s", "5m", "1h" into milliseconds; throws on anything else. Pure. */
export function parseInterval(text: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new PicoError(`--interval: "${text}" is not a duration like 30s, 5m or 1h`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
}

/**
 * The GitOps controller: reconciles the whole observed state (level-based: what changed never
 * matters) when the manifest file changes, when its repository's tracked branch gets a new commit,
 * and on every interval to repair drift. One reconcile at a time; triggers during a run queue one
 * more run. An invalid manifest is never applied: the last good one stays in force.
 * Resolves after stop() once the run in flight has finished.
 */
export class WatchController {
  private running = false;
  private queued = false;
  private stopping = false;
  private lastGood: { manifest: Manifest; inputs: Inputs; commit?: string } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closeWatcher: (() => Promise<void>) | undefined;
  private idle: (() => void) | undefined;
  /** What was last said on each topic ("invalid", "pending"): a problem is logged once per change. */
  private readonly said = new Map<string, string>();
  /** SSH sessions kept between runs: a tick on a converged cluster makes no new login. */
  private readonly pool = new SessionPool();
  /** Results of the last finished run, for tests and status. */
  lastResults: NodeResult[] | undefined;
  runs = 0;

  constructor(private readonly o: WatchOptions) {}

  async start(): Promise<void> {
    // A new commit moves HEAD or a branch: watched too, so a local commit applies at once.
    const watcher = watchFile([this.o.file, ...(await readRefPaths(this.o.file))], {
      ignoreInitial: true,
      awaitWriteFinish: { stabilityThreshold: 200, pollInterval: 50 },
    });
    watcher.on("all", (_event, path) =>
      this.trigger(path === this.o.file ? "the manifest file changed" : "a new commit"),
    );
    this.closeWatcher = () => watcher.close();
    this.timer = setInterval(() => this.trigger("interval"), this.o.intervalMs);
    this.trigger("start");
  }

  /** Logs `line` unless the same `key` was the last thing said on `topic`. */
  private sayOnce(topic: string, key: string, line: string): void {
    if (this.said.get(topic) === key) return;
    this.said.set(topic, key);
    this.o.log(line);
  }

  /** Finishes the run in flight (its node steps complete), then stops watching. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await this.closeWatcher?.();
    if (this.running) await new Promise<void>((resolve) => (this.idle = resolve));
    await this.pool.closeAll();
  }

  trigger(reason: string): void {
    if (this.stopping) return;
    if (this.running) {
      this.queued = true;
      return;
    }
    this.running = true;
    void this.loop(reason);
  }

  private async loop(reason: string): Promise<void> {
    let why = reason;
    for (;;) {
      try {
        await this.runOnce(why);
      } catch (err) {
        this.o.log(`reconcile failed: ${(err as Error).message}`);
      }
      this.runs++;
      if (!this.queued || this.stopping) break;
      this.queued = false;
      why = "queued trigger";
    }
    this.running = false;
    this.idle?.();
  }

  private async runOnce(reason: string): Promise<void> {
    if (this.o.fetch && reason === "interval") await this.pull();
    const loaded = await this.load();
    if (!loaded) return;
    const { manifest, inputs, commit } = loaded;
    this.o.log(`reconciling (${reason}) at ${commit ?? "an uncommitted file"}`);
    const { plan, results } = await reconcile({
      transport: this.pool.forRun(this.o.transport(manifest)),
      manifest,
      inputs,
      reconcilers: this.o.reconcilers,
      concurrency: this.o.concurrency,
      deadmanSeconds: this.o.deadmanSeconds,
      policy: { withhold: manifest.watch?.applyDisruptive === true ? {} : WITHHELD_IN_WATCH },
      ...(commit !== undefined ? { commit } : {}),
    });
    this.lastResults = results;
    const changes = plan.nodes.reduce((n, p) => n + p.changes.length, 0);
    this.o.log(
      `${changes} change(s) planned; ${results.map((r) => `${r.node}: ${r.outcome}${r.applied ? ` (${r.applied} applied)` : ""}${r.suspended ? " (suspended)" : ""}`).join(", ")}`,
    );
    for (const r of results) for (const d of r.diagnostics) this.o.log(`  ! ${describeDiagnostic(d)}`);
  }

  /**
   * Reads and validates the manifest at the commit HEAD points to (the file as saved with
   * allowDirty, or outside Git); on failure logs every problem once and keeps the last good one.
   */
  private async load(): Promise<{ manifest: Manifest; inputs: Inputs; commit?: string } | undefined> {
    const file = this.o.file;
    try {
      const committed = this.o.allowDirty ? undefined : await readCommittedManifest(file);
      let text: string;
      let commit: string | undefined;
      if (committed?.kind === "committed") {
        ({ text, sha: commit } = committed);
        if (!committed.dirty) this.said.delete("pending");
        else
          this.sayOnce(
            "pending",
            commit,
            `uncommitted edits in ${file} are pending, not applied: commit them (or run watch with --allow-dirty)`,
          );
      } else {
        text = readFileSync(file, "utf8");
        commit = await readManifestCommit(file);
      }
      const source = parseManifestSource(text, file);
      const diagnostics = validateManifest(source);
      if (diagnostics.length > 0) throw new ManifestError(diagnostics);
      const manifest = source.data as Manifest;
      const inputs = readInputs(manifest, file, process.env);
      this.lastGood = { manifest, inputs, ...(commit !== undefined ? { commit } : {}) };
      this.said.delete("invalid");
    } catch (err) {
      const keep = this.lastGood
        ? `keeping ${this.lastGood.commit ?? "the last good manifest"}`
        : "nothing applied until it is fixed";
      const message = (err as Error).message;
      this.sayOnce("invalid", message, `invalid manifest, not applied (${keep}):\n${message}`);
    }
    return this.lastGood;
  }

  /** Fetches the tracked branch and fast-forwards the working tree to it. */
  private async pull(): Promise<void> {
    const git = simpleGit(dirname(this.o.file));
    try {
      if (!(await git.checkIsRepo())) return;
      const status = await git.status();
      if (!status.tracking) return;
      await git.fetch();
      await git.merge(["--ff-only", status.tracking]);
    } catch (err) {
      this.o.log(`git fetch failed, going on with the local copy: ${(err as Error).message}`);
    }
  }
}
