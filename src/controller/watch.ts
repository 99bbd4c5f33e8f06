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
import type { Transport } from "../transport/session.js";
import { readManifestCommit } from "./git.js";

export interface WatchOptions {
  file: string;
  intervalMs: number;
  /** Fetch the tracked branch from its remote on every interval and fast-forward to it. */
  fetch: boolean;
  transport: (m: Manifest) => Transport;
  reconcilers: Reconciler[];
  concurrency: number;
  deadmanSeconds: number;
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
  /** Results of the last finished run, for tests and status. */
  lastResults: NodeResult[] | undefined;
  runs = 0;

  constructor(private readonly o: WatchOptions) {}

  async start(): Promise<void> {
    const watcher = watchFile(this.o.file, {
      ignoreInitial: true,
      awaitWriteFinish: { stabilityThreshold: 200, pollInterval: 50 },
    });
    watcher.on("all", () => this.trigger("the manifest file changed"));
    this.closeWatcher = () => watcher.close();
    this.timer = setInterval(() => this.trigger("interval"), this.o.intervalMs);
    this.trigger("start");
    return Promise.resolve();
  }

  /** Finishes the run in flight (its node steps complete), then stops watching. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await this.closeWatcher?.();
    if (this.running) await new Promise<void>((resolve) => (this.idle = resolve));
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
      transport: this.o.transport(manifest),
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

  /** Reads and validates the manifest; on failure logs every problem and keeps the last good one. */
  private async load(): Promise<{ manifest: Manifest; inputs: Inputs; commit?: string } | undefined> {
    try {
      const source = parseManifestSource(readFileSync(this.o.file, "utf8"), this.o.file);
      const diagnostics = validateManifest(source);
      if (diagnostics.length > 0) throw new ManifestError(diagnostics);
      const manifest = source.data as Manifest;
      const inputs = readInputs(manifest, this.o.file, process.env);
      const commit = await readManifestCommit(this.o.file);
      this.lastGood = { manifest, inputs, ...(commit !== undefined ? { commit } : {}) };
    } catch (err) {
      const keep = this.lastGood
        ? `keeping ${this.lastGood.commit ?? "the last good manifest"}`
        : "nothing applied until it is fixed";
      this.o.log(`invalid manifest, not applied (${keep}):\n${(err as Error).message}`);
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
