// Shared by the concerns that own sysctl settings: read runtime values and the effective
// persisted ones (as systemd-sysctl computes them at boot), and plan both.
import type { ChangeDraft, Step } from "../../src/engine/types.js";
import { shellQuote } from "../../src/transport/quote.js";

/** The folders systemd-sysctl reads, most important first; a file name in an earlier one hides later ones. */
export const SYSCTL_DIRS = [
  "/etc/sysctl.d",
  "/run/sysctl.d",
  "/usr/local/lib/sysctl.d",
  "/usr/lib/sysctl.d",
  "/lib/sysctl.d",
];

/** Desired sysctl settings: key (dotted) -> value, and the file of ours that persists them. */
export interface SysctlDesired {
  settings: Record<string, string>;
  file: string;
}

/** The file and line where a key's effective persisted value is set. */
export interface SysctlSource {
  value: string;
  file: string;
}

export interface SysctlObserved {
  /** Runtime value per key; undefined when the key cannot be read. */
  runtime: Record<string, string | undefined>;
  /** Effective persisted value per key (the last assignment at boot); undefined when none. */
  persisted: Record<string, SysctlSource | undefined>;
}

/** Normalises a key (`net/ipv4/ip_forward` -> `net.ipv4.ip_forward`) and a value (spacing). */
export function normaliseKey(key: string): string {
  return key.trim().replace(/\//g, ".");
}
function normaliseValue(value: string): string {
  return value.trim().split(/\s+/).join(" ");
}

/**
 * A probe printing runtime values of `keys` and every sysctl.d file. Runtime values are read from
 * /proc/sys with the shell's own `read`, and every file by one awk: no process per key or per file.
 */
export function buildSysctlProbe(keys: string[]): string {
  const runtime = keys.map(
    (k) =>
      `v=; read -r v 2>/dev/null < ${shellQuote(`/proc/sys/${k.replaceAll(".", "/")}`)}; printf 'runtime %s=%s\\n' ${shellQuote(k)} "$v"`,
  );
  return [
    ...runtime,
    `set --; for f in ${SYSCTL_DIRS.map((d) => `${d}/*.conf`).join(" ")}; do [ -f "$f" ] && set -- "$@" "$f"; done`,
    `[ $# -eq 0 ] || awk 'BEGIN { for (i = 1; i < ARGC; i++) { print "file " ARGV[i]; while ((getline l < ARGV[i]) > 0) print "| " l; close(ARGV[i]) } exit }' "$@"; true`,
  ].join("\n");
}

/** Parses the probe's output; computes persisted values with systemd-sysctl's ordering. Pure. */
export function parseSysctlProbe(output: string, keys: string[]): SysctlObserved {
  const runtime: Record<string, string | undefined> = Object.fromEntries(keys.map((k) => [k, undefined]));
  const files = new Map<string, { path: string; lines: string[] }>(); // basename -> winning file
  let current: string[] | undefined;
  for (const line of output.split("\n")) {
    const rt = /^runtime ([^=]+)=(.*)$/.exec(line);
    if (rt) {
      const value = normaliseValue(rt[2] ?? "");
      runtime[rt[1] as string] = value === "" ? undefined : value;
      current = undefined;
    } else if (line.startsWith("file ")) {
      const path = line.slice(5);
      const base = path.slice(path.lastIndexOf("/") + 1);
      current = [];
      // Directories are listed most important first: the first file of a name wins.
      if (!files.has(base)) files.set(base, { path, lines: current });
    } else if (line.startsWith("| ") || line === "|") {
      current?.push(line.slice(2));
    }
  }
  const persisted: Record<string, SysctlSource | undefined> = Object.fromEntries(
    keys.map((k) => [k, undefined]),
  );
  for (const base of [...files.keys()].sort()) {
    const file = files.get(base);
    for (const raw of file?.lines ?? []) {
      const line = raw.trim();
      if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
      const eq = line.indexOf("=");
      if (eq < 0) continue;
      const key = normaliseKey(line.slice(0, eq).replace(/^-/, ""));
      if (key in persisted && file)
        persisted[key] = { value: normaliseValue(line.slice(eq + 1)), file: file.path };
    }
  }
  return { runtime, persisted };
}

/** An object of the entries whose value is defined: plans are JSON, where undefined does not exist. */
function definedEntries<V>(entries: [string, V | undefined][]): Record<string, V> {
  return Object.fromEntries(entries.filter((e): e is [string, V] => e[1] !== undefined));
}

/** Plans runtime and persisted settings: `sysctl -w`, our file, and comments on later overrides. Pure. */
export function planSysctl(d: SysctlDesired, o: SysctlObserved): ChangeDraft[] {
  const changes: ChangeDraft[] = [];
  const keys = Object.keys(d.settings).sort();
  const wrongRuntime = keys.filter((k) => o.runtime[k] !== d.settings[k]);
  if (wrongRuntime.length > 0) {
    changes.push({
      summary: wrongRuntime.map((k) => `${k} ${o.runtime[k] ?? "(unset)"} -> ${d.settings[k]}`).join(", "),
      before: definedEntries(wrongRuntime.map((k) => [k, o.runtime[k]])),
      after: Object.fromEntries(wrongRuntime.map((k) => [k, d.settings[k]])),
      steps: wrongRuntime.map((k): Step => ({
        kind: "run",
        command: `sysctl -q -w ${shellQuote(`${k}=${d.settings[k]}`)}`,
      })),
    });
  }
  const wrongPersisted = keys.filter((k) => o.persisted[k]?.value !== d.settings[k]);
  if (wrongPersisted.length > 0) {
    const steps: Step[] = [
      {
        kind: "write",
        path: d.file,
        content: `# Managed by picotrader from cluster.yaml.\n${keys.map((k) => `${k} = ${d.settings[k]}`).join("\n")}\n`,
        mode: "0644",
        owner: "root",
        group: "root",
      },
    ];
    const ourBase = d.file.slice(d.file.lastIndexOf("/") + 1);
    for (const k of wrongPersisted) {
      const source = o.persisted[k];
      const overrides =
        source && source.file !== d.file && source.file.slice(source.file.lastIndexOf("/") + 1) > ourBase;
      if (source && overrides) {
        // A file read after ours would win at boot: comment its assignment out, noting why.
        const pattern = k.replace(/\./g, "[./]");
        steps.push({
          kind: "run",
          command: `sed -i ${shellQuote(`s|^[[:space:]]*-\\?${pattern}[[:space:]]*=|# disabled by picotrader (see ${d.file}): &|`)} ${shellQuote(source.file)}`,
        });
      }
    }
    changes.push({
      summary: `persist ${wrongPersisted.map((k) => `${k} = ${d.settings[k]}`).join(", ")} in ${d.file}`,
      before: definedEntries(wrongPersisted.map((k) => [k, o.persisted[k]])),
      after: Object.fromEntries(wrongPersisted.map((k) => [k, { value: d.settings[k], file: d.file }])),
      steps,
    });
  }
  return changes;
}
