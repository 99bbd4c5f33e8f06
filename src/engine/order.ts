import { PicoError } from "../errors.js";
import type { Reconciler } from "./types.js";

/**
 * The reconcilers in apply order: the listed order, except that each comes after every concern
 * named in its `after`. Throws when `after` names an unknown concern or forms a cycle. Pure.
 */
export function orderReconcilers<R extends Pick<Reconciler, "name" | "after">>(list: R[]): R[] {
  const byName = new Map(list.map((r) => [r.name, r]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const out: R[] = [];
  const visit = (r: R, chain: string[]) => {
    if (done.has(r.name)) return;
    if (visiting.has(r.name))
      throw new PicoError(`reconcilers: cycle in "after": ${[...chain, r.name].join(" -> ")}`);
    visiting.add(r.name);
    for (const dep of r.after ?? []) {
      const d = byName.get(dep);
      if (!d) throw new PicoError(`reconciler ${r.name}: "after" names unknown concern "${dep}"`);
      visit(d, [...chain, r.name]);
    }
    visiting.delete(r.name);
    done.add(r.name);
    out.push(r);
  };
  for (const r of list) visit(r, []);
  return out;
}
