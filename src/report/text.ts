import type { DiffEntry } from "../engine/diff.js";
import { formatPath } from "../manifest/load.js";
import type { NodeResult } from "../engine/results.js";
import { styleText } from "node:util";
import { changeKind, type ChangeKind, type Plan } from "../engine/types.js";
import { describeDiagnostic } from "../engine/diagnostics.js";
import { describeDisposition } from "../engine/dispositions.js";
import { describeRestore } from "../engine/record.js";

/** Colours for a terminal; `plain` for CI and pipes. */
export interface Style {
  add(s: string): string;
  remove(s: string): string;
  change(s: string): string;
  bold(s: string): string;
  dim(s: string): string;
}

const styled =
  (format: Parameters<typeof styleText>[0]) =>
  (s: string): string =>
    // styleFor() has decided already, for whichever stream the text goes to.
    styleText(format, s, { validateStream: false });
export const colour: Style = {
  add: styled("green"),
  remove: styled("red"),
  change: styled("yellow"),
  bold: styled("bold"),
  dim: styled("dim"),
};
export const plain: Style = {
  add: (s) => s,
  remove: (s) => s,
  change: (s) => s,
  bold: (s) => s,
  dim: (s) => s,
};

/**
 * Colour or not, as the conventions say: FORCE_COLOR (not "0") forces it, NO_COLOR turns it off, and
 * otherwise only a terminal outside CI gets it. Pure.
 */
export function styleFor(isTTY: boolean, env: NodeJS.ProcessEnv): Style {
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0") return colour;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return plain;
  return isTTY && !env.CI ? colour : plain;
}

/** The mark of each kind of change, as Terraform users read them; `!` a rebuild, `^` a reboot. */
export const KIND_MARK: Record<ChangeKind, string> = {
  create: "+",
  update: "~",
  remove: "-",
  reboot: "^",
  rebuild: "!",
};

function show(value: unknown): string {
  return JSON.stringify(value) ?? "undefined";
}

function renderPath(path: (string | number)[]): string {
  return formatPath(path) || "(value)";
}

function renderDiff(e: DiffEntry, s: Style): string {
  const at = renderPath(e.path);
  if (e.kind === "N") return s.add(`+ ${at}: ${show(e.rhs)}`);
  if (e.kind === "D") return s.remove(`- ${at}: ${show(e.lhs)}`);
  return s.change(`~ ${at}: ${show(e.lhs)} => ${show(e.rhs)}`);
}

/** The plan as terraform-like text: one block per node, `+ - ~` marks, a summary line. Pure. */
export function renderPlanText(plan: Plan, s: Style = plain): string {
  const out: string[] = [];
  for (const n of plan.nodes) {
    if (n.status === "unreachable") {
      out.push(
        `${s.bold(n.node)} (${n.address}): ${s.remove("unreachable")}`,
        ...n.diagnostics.map((d) => `  ! ${describeDiagnostic(d)}`),
      );
      continue;
    }
    const changes = `${n.changes.length} change${n.changes.length === 1 ? "" : "s"}`;
    const state =
      n.state === "unknown"
        ? `${s.remove(`unknown (facts of ${(n.unknown ?? []).join(", ")} unknown)`)}${n.changes.length > 0 ? `; ${changes}` : ""}`
        : n.state === "converged"
          ? s.dim("converged")
          : changes;
    out.push(`${s.bold(n.node)} (${n.address}) as ${n.identity ?? "?"}: ${state}`);
    for (const r of n.restored ?? []) out.push(s.remove(`  ! ${describeRestore(r)}`));
    for (const c of n.changes) {
      const risk = c.risk ? ` [risk: ${c.risk}]` : "";
      const kind = changeKind(c);
      const line = `  ${KIND_MARK[kind]} ${c.concern}: ${c.summary}${risk}${describeDisposition(c.disposition)}`;
      out.push(kind === "create" ? s.add(line) : kind === "update" ? s.change(line) : s.remove(line));
      for (const d of c.diff) out.push(`      ${renderDiff(d, s)}`);
    }
    for (const d of n.diagnostics) out.push(s.remove(`  ! ${describeDiagnostic(d)}`));
  }
  const count = (state: string) => plan.nodes.filter((n) => n.state === state).length;
  const unreachable = plan.nodes.filter((n) => n.status === "unreachable").length;
  const kinds = plan.nodes.flatMap((n) => n.changes.map(changeKind));
  const of = (kind: ChangeKind) => kinds.filter((k) => k === kind).length;
  const nodes = `${plan.nodes.length} node${plan.nodes.length === 1 ? "" : "s"}`;
  out.push(
    "",
    s.bold(
      `Plan: ${of("create")} to create, ${of("update")} to change, ${of("remove")} to remove, ${of("reboot")} reboot${of("reboot") === 1 ? "" : "s"}, ${of("rebuild")} rebuild${of("rebuild") === 1 ? "" : "s"} on ${nodes}; ${count("converged")} converged, ${count("pending")} pending, ${count("unknown")} unknown (${unreachable} unreachable).`,
    ),
  );
  return out.join("\n") + "\n";
}

/** The outcome of an apply, one line per node and a summary. Pure. */
export function renderResultsText(results: NodeResult[], s: Style = plain): string {
  const out = results.map((r) => {
    const what =
      r.outcome === "converged"
        ? s.add("converged")
        : r.outcome === "pending"
          ? s.change("pending")
          : s.remove(r.outcome);
    const applied =
      r.applied > 0
        ? ` (${r.applied} change${r.applied === 1 ? "" : "s"} applied)`
        : r.suspended
          ? " (suspended: not applied)"
          : "";
    return [
      `${s.bold(r.node)}: ${what}${applied}`,
      ...r.diagnostics.map((d) => s.remove(`  ! ${describeDiagnostic(d).split("\n").join("\n    ")}`)),
    ].join("\n");
  });
  const bad = results.filter((r) => r.outcome !== "converged" && r.outcome !== "pending").map((r) => r.node);
  out.push("", s.bold(bad.length === 0 ? applyComplete(results) : `Apply failed on: ${bad.join(", ")}.`));
  return out.join("\n") + "\n";
}

function applyComplete(results: NodeResult[]): string {
  const pending = results.filter((r) => r.outcome === "pending").length;
  const converged = `${results.length - pending} node${results.length - pending === 1 ? "" : "s"} converged`;
  return `Apply complete: ${converged}${pending > 0 ? `, ${pending} pending (suspended or withheld)` : ""}.`;
}
