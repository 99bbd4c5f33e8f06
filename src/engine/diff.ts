import deepDiff from "deep-diff";

/** One difference between observed (lhs) and desired (rhs), in our own shape, JSON-safe. */
export interface DiffEntry {
  /** N: new in desired; D: only observed; E: edited. */
  kind: "N" | "D" | "E";
  path: (string | number)[];
  lhs?: unknown;
  rhs?: unknown;
}

/** The differences between `before` (observed) and `after` (desired); [] when equal. Pure. */
export function diffValues(before: unknown, after: unknown): DiffEntry[] {
  const entries = deepDiff.diff(before, after) ?? [];
  const out: DiffEntry[] = [];
  for (const e of entries) {
    const path = (e.path ?? []) as (string | number)[];
    if (e.kind === "A") {
      const item = e.item;
      const at = [...path, e.index];
      if (item.kind === "N") out.push({ kind: "N", path: at, rhs: item.rhs });
      else if (item.kind === "D") out.push({ kind: "D", path: at, lhs: item.lhs });
      else if (item.kind === "E") out.push({ kind: "E", path: at, lhs: item.lhs, rhs: item.rhs });
    } else if (e.kind === "N") out.push({ kind: "N", path, rhs: e.rhs });
    else if (e.kind === "D") out.push({ kind: "D", path, lhs: e.lhs });
    else out.push({ kind: "E", path, lhs: e.lhs, rhs: e.rhs });
  }
  return out;
}
