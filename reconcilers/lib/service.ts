// Shared by the concerns that own a service and its one config file (haproxy, keepalived).
import type { ChangeDraft, Step } from "../../src/engine/types.js";
import { lineDelta } from "./text.js";

/** A service's observed state: its unit file state and whether it runs. */
export interface ServiceObserved {
  /** Meaningful lines of the config file; undefined when the file is missing. */
  config?: string[];
  active: boolean;
  enabled: boolean;
}

/**
 * Probe lines printing a unit's state as `active=` and `enabled=`, from the engine's `unit_state`
 * (the concern lists the unit in its `units`, so that no systemctl starts for it here).
 */
export function buildServiceStateProbe(unit: string): string {
  return `unit_state ${unit}; printf 'active=%s\\nenabled=%s\\n' "$unit_active" "$unit_enabled"`;
}

/**
 * Reads the lines buildServiceStateProbe() prints. A unit that is reloading (a HAProxy reload just
 * asked for) is running: taken as active, or the verify right after a reload would see drift. Pure.
 */
export function parseServiceState(text: string): { active: boolean; enabled: boolean } {
  return { active: /^active=(active|reloading)$/m.test(text), enabled: /^enabled=enabled$/m.test(text) };
}

/** A probe printing `active=`, `enabled=` and the config file after a `--- config` line. */
export function buildServiceProbe(unit: string, configPath: string): string {
  return `${buildServiceStateProbe(unit)}
if [ -f ${configPath} ]; then echo '--- config'; file_text ${configPath}; fi
true`;
}

/** Splits that probe's output into the state lines and the config text (undefined when missing). Pure. */
export function parseServiceProbe(output: string): { active: boolean; enabled: boolean; config?: string } {
  const [head = "", config] = output.split(/^--- config\n/m);
  const state = parseServiceState(head);
  return config === undefined ? state : { ...state, config };
}

/** What a service concern wants on one node: running with this config, or not running at all. */
export type ServiceDesired =
  | {
      run: true;
      /** The config file's content to write. */
      content: string;
      /** Its meaningful lines as compared with the observed ones (secrets already masked). */
      lines: string[];
    }
  | { run: false };

/**
 * Plans a service with one config file: write it (validated, maybe sensitive) and reload or start
 * the service, or start it, or (where it must not run) stop and disable it. Pure.
 */
export function planService(
  unit: string,
  path: string,
  d: ServiceDesired,
  o: ServiceObserved,
  write: Pick<Extract<Step, { kind: "write" }>, "mode" | "validate" | "sensitive">,
): ChangeDraft[] {
  if (!d.run) {
    if (!o.active && !o.enabled) return [];
    return [
      {
        summary: `stop and disable ${unit}: this node has no role for it`,
        before: { active: o.active, enabled: o.enabled },
        after: { active: false, enabled: false },
        steps: [{ kind: "run", command: `systemctl disable --now ${unit}` }],
        risk: "restart",
      },
    ];
  }
  const same = o.config !== undefined && o.config.join("\n") === d.lines.join("\n");
  if (!same) {
    const delta = lineDelta(o.config ?? [], d.lines);
    return [
      {
        summary: `${o.config === undefined ? "write" : "rewrite"} ${path} (${delta.added.length} line(s) added, ${delta.removed.length} removed); reload ${unit}`,
        before: { config: o.config === undefined ? "(missing)" : delta.removed },
        after: { config: delta.added },
        steps: [
          { kind: "write", path, content: d.content, owner: "root", group: "root", ...write },
          { kind: "run", command: `systemctl enable -q ${unit} && systemctl reload-or-restart ${unit}` },
        ],
        risk: "restart",
      },
    ];
  }
  if (o.active && o.enabled) return [];
  return [
    {
      summary: `${o.enabled ? "" : "enable and "}start ${unit}`,
      before: { active: o.active, enabled: o.enabled },
      after: { active: true, enabled: true },
      steps: [{ kind: "run", command: `systemctl enable --now ${unit}` }],
      risk: "restart",
    },
  ];
}
