import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { reconcilers } from "../reconcilers/index.js";
import { observeNode } from "./engine/observe.js";
import {
  applyPlan,
  dryRun,
  dryRunResults,
  exitCodeFor,
  planCluster,
  selectNodes,
  type NodeResult,
  type ReconcileOptions,
} from "./engine/reconcile.js";
import { PicoError } from "./errors.js";
import { loadManifest } from "./manifest/validate.js";
import { readInputs } from "./manifest/inputs.js";
import { readManifestCommit } from "./controller/git.js";
import { parseInterval, WatchController } from "./controller/watch.js";
import { packageRoot } from "./paths.js";
import { buildDriftIssue } from "./report/drift.js";
import { renderJson, type ReconcileReport } from "./report/json.js";
import { buildStatus, renderStatusText } from "./report/status.js";
import { renderPlanMarkdown } from "./report/markdown.js";
import { renderPlanText, renderResultsText, styleFor } from "./report/text.js";
import { SshTransport, sshOptionsFromEnv } from "./transport/ssh.js";
import { run } from "./util/run.js";
import { confirm, promptSecret } from "./prompt.js";
import { readHostTrust } from "./trust.js";
import type { Plan } from "./engine/types.js";

const common = {
  file: { type: "string", short: "f", default: "cluster.yaml" },
} as const;

/** Asks for the bootstrap password of factory-fresh nodes. */
function promptPassword(): Promise<string> {
  return promptSecret("root password of factory-fresh nodes (PICOTRADER_BOOTSTRAP_PASSWORD): ");
}

/** The engine and controller commands (validate, facts, reconcile, status, watch, ...): returns the exit code. */
export async function engineCommand(command: string, argv: string[]): Promise<number> {
  switch (command) {
    case "validate": {
      const { values } = parseArgs({ args: argv, options: common });
      const m = loadManifest(values.file);
      process.stdout.write(`${values.file}: valid (${m.nodes.length} nodes)\n`);
      return 0;
    }
    case "facts": {
      const { values, positionals } = parseArgs({
        args: argv,
        allowPositionals: true,
        options: {
          ...common,
          "accept-new-host-keys": { type: "boolean", default: false },
          "host-fingerprint": { type: "string", multiple: true },
        },
      });
      const m = loadManifest(values.file);
      const inputs = readInputs(m, values.file, process.env);
      const transport = new SshTransport(
        sshOptionsFromEnv(
          m.admin.user,
          values["accept-new-host-keys"],
          undefined,
          readHostTrust(m, values["host-fingerprint"]),
        ),
      );
      const out: Record<string, unknown> = {};
      let code = 0;
      for (const node of selectNodes(m, positionals.length > 0 ? positionals : undefined)) {
        try {
          const session = await transport.connect(node);
          try {
            out[node.name] = {
              identity: session.identity,
              ...(await observeNode(session, node, m, reconcilers, inputs)),
            };
          } finally {
            await session.close();
          }
        } catch (err) {
          out[node.name] = { error: (err as Error).message };
          code = 1;
        }
      }
      process.stdout.write(JSON.stringify(out, null, 2) + "\n");
      return code;
    }
    case "reconcile":
      return reconcileCommand(argv);
    case "apply":
      return applyCommand(argv);
    case "status":
      return statusCommand(argv);
    case "watch":
      return watchCommand(argv);
    case "install-service":
      return installServiceCommand(argv);
    case "drift-report":
      return driftReportCommand(argv);
    case "hash-password":
      return hashPasswordCommand();
    case "tftp-prepare": {
      const { tftpPrepareCommand } = await import("./tftp.js");
      return tftpPrepareCommand(argv);
    }
    case "exec":
    case "reboot":
    case "shutdown": {
      const { fleetCommand } = await import("./fleet.js");
      return fleetCommand(command, argv);
    }
    default:
      throw new PicoError(`unknown command "${command}" (see picotrader --help)`);
  }
}

const runOptions = {
  "detailed-exitcode": { type: "boolean", default: false },
  json: { type: "boolean", default: false },
  markdown: { type: "boolean", default: false },
  concurrency: { type: "string", default: "8" },
  "accept-new-host-keys": { type: "boolean", default: false },
  "host-fingerprint": { type: "string", multiple: true },
  "deadman-seconds": { type: "string", default: "120" },
} as const;

/** The options a run of the engine takes from the command line, `reconcile` and `apply` alike. */
interface RunFlags {
  file: string;
  "detailed-exitcode": boolean;
  json: boolean;
  markdown: boolean;
  concurrency: string;
  "accept-new-host-keys": boolean;
  "host-fingerprint"?: string[];
  "deadman-seconds": string;
}

/** `reconcile`: plan, show, and (unless --dry-run) apply after a yes; `--out` saves the plan for `apply`. */
async function reconcileCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...common,
      ...runOptions,
      "dry-run": { type: "boolean", default: false },
      out: { type: "string" },
      only: { type: "string" },
      "allow-rebuild": { type: "boolean", default: false },
      yes: { type: "boolean", default: false },
    },
  });
  if (values.out !== undefined && !values["dry-run"])
    throw new PicoError("--out saves a plan to review: use it with --dry-run, then picotrader apply FILE");
  const only = values.only
    ?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return runEngine(values, {
    apply: !values["dry-run"],
    allowRebuild: values["allow-rebuild"],
    ...(only ? { only } : {}),
    ...(values.out !== undefined ? { out: values.out } : {}),
    yes: values.yes,
  });
}

/** `apply PLAN`: observes again and applies exactly the saved plan, or refuses it as stale. */
async function applyCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...runOptions, file: { type: "string", short: "f" } },
  });
  const [planFile, ...extra] = positionals;
  if (planFile === undefined || extra.length > 0) throw new PicoError("usage: picotrader apply PLAN.json");
  let saved: ReconcileReport;
  try {
    saved = JSON.parse(readFileSync(planFile, "utf8")) as ReconcileReport;
  } catch (err) {
    throw new PicoError(`${planFile}: not a saved plan: ${(err as Error).message}`);
  }
  if (saved.saved === undefined)
    throw new PicoError(
      `${planFile}: not a saved plan (make one with reconcile --dry-run --out ${planFile})`,
    );
  return runEngine(
    { ...values, file: values.file ?? saved.saved.manifest },
    {
      apply: true,
      allowRebuild: saved.saved.allowRebuild,
      ...(saved.saved.only ? { only: saved.saved.only } : {}),
      saved: saved.plan,
      yes: true,
    },
  );
}

/** sha256 of a file's bytes. */
function fileDigest(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** One run of the engine as the CLI makes it: its output in the chosen format, and its exit code. */
async function runEngine(
  values: RunFlags,
  how: { apply: boolean; allowRebuild: boolean; only?: string[]; out?: string; saved?: Plan; yes: boolean },
): Promise<number> {
  const deadmanSeconds = Number(values["deadman-seconds"]);
  if (!Number.isInteger(deadmanSeconds) || deadmanSeconds < 5)
    throw new PicoError(
      `--deadman-seconds must be an integer of at least 5, not "${values["deadman-seconds"]}"`,
    );
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new PicoError(`--concurrency must be a positive integer, not "${values.concurrency}"`);
  const m = loadManifest(values.file);
  const style = styleFor(Boolean(process.stdout.isTTY), process.env);
  const human = !values.json && !values.markdown;
  const apply = how.apply;
  const options: ReconcileOptions = {
    transport: new SshTransport(
      sshOptionsFromEnv(
        m.admin.user,
        values["accept-new-host-keys"],
        promptPassword,
        readHostTrust(m, values["host-fingerprint"]),
      ),
    ),
    manifest: m,
    manifestDigest: fileDigest(values.file),
    inputs: readInputs(m, values.file, process.env),
    reconcilers,
    deadmanSeconds,
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
    commit: await readManifestCommit(values.file),
    ...(how.only ? { only: how.only } : {}),
    concurrency,
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
  const exitCode = exitCodeFor(results, values["detailed-exitcode"]);
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

async function statusCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...common,
      json: { type: "boolean", default: false },
      only: { type: "string" },
      concurrency: { type: "string", default: "8" },
    },
  });
  const m = loadManifest(values.file);
  const { plan, results } = await dryRun({
    transport: new SshTransport(sshOptionsFromEnv(m.admin.user)),
    manifest: m,
    inputs: readInputs(m, values.file, process.env),
    reconcilers,
    only: values.only
      ?.split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    concurrency: Math.max(1, Number(values.concurrency) || 8),
  });
  const status = buildStatus(plan, results);
  process.stdout.write(
    values.json
      ? JSON.stringify({ cluster: plan.cluster, nodes: status }, null, 2) + "\n"
      : renderStatusText(status),
  );
  return exitCodeFor(results, false);
}

async function watchCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...common,
      interval: { type: "string", default: "5m" },
      "no-fetch": { type: "boolean", default: false },
      concurrency: { type: "string", default: "8" },
      "deadman-seconds": { type: "string", default: "120" },
    },
  });
  const file = resolve(values.file);
  loadManifest(file); // refuse to start on an invalid manifest: nothing good to keep yet
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const controller = new WatchController({
    file,
    intervalMs: parseInterval(values.interval),
    fetch: !values["no-fetch"],
    transport: (m) => new SshTransport(sshOptionsFromEnv(m.admin.user)),
    reconcilers,
    concurrency: Math.max(1, Number(values.concurrency) || 8),
    deadmanSeconds: Math.max(5, Number(values["deadman-seconds"]) || 120),
    log,
  });
  await controller.start();
  log(`watching ${file} (interval ${values.interval}${values["no-fetch"] ? ", no fetch" : ""})`);
  await new Promise<void>((done) => {
    const stop = (signal: string) => {
      log(`${signal}: finishing the run in flight, then exiting`);
      void controller.stop().then(done);
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
  log("stopped");
  return 0;
}

function installServiceCommand(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: { ...common, user: { type: "string", default: "root" } },
  });
  const manifest = resolve(values.file);
  loadManifest(manifest);
  const unit = readFileSync(join(packageRoot(), "packaging", "picotrader.service"), "utf8")
    .replaceAll("@USER@", values.user)
    .replaceAll("@WORKDIR@", dirname(manifest))
    .replaceAll("@NODE@", process.execPath)
    .replaceAll("@CLI@", join(packageRoot(), "dist", "src", "cli.js"))
    .replaceAll("@MANIFEST@", manifest);
  writeFileSync("/etc/systemd/system/picotrader.service", unit);
  process.stdout.write(
    "wrote /etc/systemd/system/picotrader.service; start it with: systemctl daemon-reload && systemctl enable --now picotrader\n",
  );
  return 0;
}

/** Renders a saved `reconcile --json` report for CI: the Markdown summary or the drift issue payload. */
function driftReportCommand(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      plan: { type: "string", default: "plan.json" },
      markdown: { type: "boolean", default: false },
      issue: { type: "boolean", default: false },
    },
  });
  let report: ReconcileReport;
  try {
    report = JSON.parse(readFileSync(values.plan, "utf8")) as ReconcileReport;
  } catch (err) {
    throw new PicoError(`${values.plan}: not a reconcile --json report: ${(err as Error).message}`);
  }
  if (!Array.isArray(report?.plan?.nodes) || !Array.isArray(report.results))
    throw new PicoError(
      `${values.plan}: not a reconcile --json report (no plan.nodes or results): make it with picotrader reconcile --dry-run --json > ${values.plan}`,
    );
  if (!values.issue) {
    process.stdout.write(renderPlanMarkdown(report.plan, report.results));
    return 0;
  }
  const issue = buildDriftIssue(report);
  process.stdout.write(JSON.stringify(issue, null, 2) + "\n");
  // Unknown state is an error of the check: the issue script must neither close nor open anything.
  if (issue.unknown.length > 0)
    process.stderr.write(`state unknown on ${issue.unknown.join(", ")}: the drift issue is left as it is\n`);
  return issue.unknown.length > 0 ? 1 : 0;
}

/**
 * Makes a sha512-crypt hash for `rootPassword.hash` with `openssl passwd -6`: the password is asked
 * twice on a terminal, or read from the first line of standard input.
 */
async function hashPasswordCommand(): Promise<number> {
  let password: string;
  if (process.stdin.isTTY) {
    password = await promptSecret("new root password: ");
    if ((await promptSecret("again: ")) !== password) throw new PicoError("the two passwords differ");
  } else {
    password = readFileSync(0, "utf8").split("\n")[0] ?? "";
  }
  if (password === "") throw new PicoError("no password given");
  const r = await run("openssl", ["passwd", "-6", "-stdin"], { input: `${password}\n` });
  if (r.exitCode !== 0)
    throw new PicoError(`openssl passwd -6 failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
  process.stdout.write(`${r.stdout.trim()}\n`);
  process.stderr.write('put it in cluster.yaml as: rootPassword: { hash: "<the line above>" }\n');
  return 0;
}
