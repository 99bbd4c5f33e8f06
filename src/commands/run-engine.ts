// One run of the engine as `reconcile` and `apply` make it: the plan shown, a yes asked, the plan
// applied, the results in the chosen format, and the exit code.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { reconcilers } from "../../reconcilers/index.js";
import { readManifestCommit } from "../controller/git.js";
import { applyPlan, dryRunResults, exitCodeFor, planCluster } from "../engine/reconcile.js";
import type { NodeResult } from "../engine/results.js";
import type { ReconcileOptions } from "../engine/options.js";
import type { Plan } from "../engine/types.js";
import { readInputs } from "../manifest/inputs.js";
import { loadManifest } from "../manifest/validate.js";
import { confirm } from "../prompt.js";
import { renderJson, type ReconcileReport } from "../report/json.js";
import { renderPlanMarkdown } from "../report/markdown.js";
import { renderPlanText, renderResultsText, styleFor } from "../report/text.js";
import { openTransport, promptBootstrapPassword, type ConnectionFlags } from "./options.js";

/** The options a run of the engine takes from the command line, `reconcile` and `apply` alike. */
export interface RunFlags extends ConnectionFlags {
  file: string;
  detailedExitcode: boolean;
  json: boolean;
  markdown: boolean;
  concurrency: number;
  deadmanSeconds: number;
}

/** What this run does beyond the flags: apply or not, rebuilds, the nodes, a saved plan. */
export interface RunHow {
  apply: boolean;
  allowRebuild: boolean;
  only?: string[];
  out?: string;
  saved?: Plan;
  yes: boolean;
}

/** sha256 of a file's bytes. */
function fileDigest(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** Plans, shows, asks, applies (unless a dry-run), and reports: returns the exit code. */
export async function runEngine(values: RunFlags, how: RunHow): Promise<number> {
  const m = loadManifest(values.file);
  const style = styleFor(Boolean(process.stdout.isTTY), process.env);
  const human = !values.json && !values.markdown;
  const apply = how.apply;
  const options: ReconcileOptions = {
    transport: await openTransport(m, values, promptBootstrapPassword),
    manifest: m,
    manifestDigest: fileDigest(values.file),
    inputs: readInputs(m, values.file, process.env),
    reconcilers,
    deadmanSeconds: values.deadmanSeconds,
    // A rebuild (a higher generation) wipes a node: only with --allow-rebuild, and confirmed.
    policy: {
      withhold: how.allowRebuild ? {} : { destroy: "a rebuild is applied only with --allow-rebuild" },
    },
    ...(how.saved ? { saved: how.saved } : {}),
    // Nothing changes without a yes: the terminal's, or --yes (Terraform's -auto-approve).
    approve: ({ changes, nodes }) =>
      how.yes
        ? Promise.resolve(true)
        : confirm(
            `Apply ${changes} change${changes === 1 ? "" : "s"} on ${nodes} node${nodes === 1 ? "" : "s"}?`,
          ),
    confirm: (nodes) =>
      how.yes
        ? Promise.resolve(true)
        : confirm(`rebuild ${nodes.join(", ")}? Everything on ${nodes.length > 1 ? "them" : "it"} is lost.`),
    // Git is asked only where the commit is used: recorded on nodes, saved with a plan, or in JSON.
    commit: apply || how.out !== undefined || values.json ? await readManifestCommit(values.file) : undefined,
    ...(how.only ? { only: how.only } : {}),
    concurrency: values.concurrency,
    onProgress: (node, message) => {
      if (human && apply) process.stderr.write(style.dim(`[${node}] ${message}\n`));
    },
  };
  // Phase 1: the plan, shown; phase 2 (not for a dry-run): apply it over the same sessions.
  const { plan, sessions } = await planCluster(options);
  let results: NodeResult[];
  try {
    if (human) process.stdout.write(renderPlanText(plan, style) + (apply ? "\n" : ""));
    results = apply ? await applyPlan(plan, sessions, options) : dryRunResults(plan, sessions);
  } finally {
    await sessions.close();
  }
  const withheld = plan.nodes.filter((n) =>
    n.changes.some((c) => c.risk === "destroy" && c.disposition.kind === "withheld"),
  );
  if (apply && withheld.length > 0)
    process.stderr.write(
      `rebuild of ${withheld.map((n) => n.node).join(", ")} planned, not applied: pass --allow-rebuild (and --yes without a terminal)\n`,
    );
  const exitCode = exitCodeFor(results, values.detailedExitcode);
  const report: ReconcileReport = {
    version: 1,
    mode: apply ? "apply" : "dry-run",
    exitCode,
    plan,
    results,
    ...(how.out !== undefined
      ? {
          saved: {
            manifest: resolve(values.file),
            allowRebuild: how.allowRebuild,
            ...(how.only ? { only: how.only } : {}),
          },
        }
      : {}),
  };
  if (how.out !== undefined) {
    writeFileSync(how.out, renderJson(report), { mode: 0o600 });
    if (human) process.stdout.write(`\nSaved the plan to ${how.out}: picotrader apply ${how.out}\n`);
  }
  if (values.json) process.stdout.write(renderJson(report));
  else if (values.markdown) process.stdout.write(renderPlanMarkdown(plan, results));
  else if (apply) process.stdout.write(renderResultsText(results, style));
  return exitCode;
}
