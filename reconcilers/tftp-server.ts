// Owns: the cluster's TFTP server on the node with the tftp role: tftpd-hpa running, and /srv/tftp
// holding exactly the files under the manifest's `tftp.root` (compared by SHA-256). Runs: file
// copies from the controller (atomic writes), removals, `systemctl enable --now`. Leaves alone:
// /etc/default/tftpd-hpa (Debian's serves /srv/tftp), and installing tftpd-hpa (the packages concern).
import type { ChangeDraft, Reconciler, Step } from "../src/engine/types.js";
import { shellQuote } from "../src/transport/quote.js";
import { buildServiceStateProbe, parseServiceState } from "./lib/service.js";

const ROOT = "/srv/tftp";

export interface TftpDesired {
  /** Path under /srv/tftp -> SHA-256, the controller's file, its size and mtime (whole seconds). */
  files: Record<string, { sha256: string; from: string; size: number; mtime: number }>;
}

export interface TftpObserved {
  active: boolean;
  enabled: boolean;
  /** Path under /srv/tftp -> SHA-256. */
  files: Record<string, string>;
}

/**
 * Probe lines printing `file SHA256 ./PATH` for every file under /srv/tftp (or `root`). A file with the size
 * and mtime of the controller's copy (the copy step gives it that mtime) is taken to hold the
 * digest the controller knows, as rsync's quick check does: only other files are read and hashed,
 * so that a steady node does not hash a gigabyte on every observation. One find and one awk (a
 * table lookup per file), whatever the number of files. Pure.
 */
export function buildServedFilesProbe(d: TftpDesired, root = ROOT): string {
  const known = Object.entries(d.files)
    .map(([rel, f]) => `${f.sha256} ${f.size} ${f.mtime} ${rel}\n`)
    .join("");
  return `[ -d ${shellQuote(root)} ] && cd ${shellQuote(root)} || exit 0
find . -type f -printf '%s %T@ %P\\n' | known=${shellQuote(known)} awk '
BEGIN { n = split(ENVIRON["known"], rows, "\\n")
  for (i = 1; i <= n; i++) if ((at = index(rows[i], " ")) > 0) sha[substr(rows[i], at + 1)] = substr(rows[i], 1, at - 1) }
{ mtime = $2; sub(/\\..*$/, "", mtime); path = $0; sub(/^[^ ]* [^ ]* /, "", path)
  key = $1 " " mtime " " path
  if (key in sha) print "file " sha[key] "  ./" path; else print "hash " path }' | while IFS= read -r line; do
  case $line in
    "hash "*) sha256sum "./\${line#hash }" | sed 's/^/file /' ;;
    *) printf '%s\\n' "$line" ;;
  esac
done`;
}

export const tftpServer: Reconciler<TftpDesired, TftpObserved> = {
  name: "tftp-server",
  after: ["packages"],
  applies: (node, m) => m.tftp !== undefined && node.roles.includes("tftp"),
  desired: (_node, _m, inputs) => ({
    files: Object.fromEntries(
      Object.entries(inputs.files).map(([rel, f]) => [
        rel,
        { sha256: f.sha256, from: f.path, size: f.size, mtime: f.mtime },
      ]),
    ),
  }),
  units: ["tftpd-hpa"],
  probe: (d) => `${buildServiceStateProbe("tftpd-hpa")}
${buildServedFilesProbe(d)}
true`,
  parse(output) {
    const files: Record<string, string> = {};
    for (const m of output.matchAll(/^file ([0-9a-f]{64}) [ *]\.\/(.+)$/gm))
      files[m[2] as string] = m[1] as string;
    return {
      ...parseServiceState(output),
      files,
    };
  },
  plan(d, o) {
    const changes: ChangeDraft[] = [];
    const stale = Object.keys(d.files)
      .sort()
      .filter((rel) => o.files[rel] !== d.files[rel]?.sha256);
    if (stale.length > 0) {
      const bytes = stale.reduce((n, rel) => n + (d.files[rel]?.size ?? 0), 0);
      changes.push({
        summary: `copy ${stale.length} file(s) (${(bytes / 1048576).toFixed(1)} MiB) to ${ROOT}`,
        before: Object.fromEntries(stale.map((rel) => [rel, o.files[rel] ?? "(missing)"])),
        after: Object.fromEntries(stale.map((rel) => [rel, d.files[rel]?.sha256])),
        steps: stale.map((rel): Step => ({
          kind: "write",
          path: `${ROOT}/${rel}`,
          content: "",
          from: d.files[rel]?.from ?? "",
          ...(d.files[rel] ? { mtime: d.files[rel].mtime } : {}),
          mode: "0644",
          owner: "root",
          group: "root",
        })),
      });
    }
    const extra = Object.keys(o.files)
      .sort()
      .filter((rel) => d.files[rel] === undefined);
    if (extra.length > 0) {
      changes.push({
        summary: `remove ${extra.length} file(s) from ${ROOT} that tftp.root does not have`,
        action: "remove",
        before: { files: extra },
        after: { files: [] },
        steps: [
          { kind: "run", command: `rm -f ${extra.map((rel) => shellQuote(`${ROOT}/${rel}`)).join(" ")}` },
        ],
      });
    }
    if (!o.active || !o.enabled) {
      changes.push({
        summary: "enable and start tftpd-hpa",
        before: { active: o.active, enabled: o.enabled },
        after: { active: true, enabled: true },
        steps: [{ kind: "run", command: "systemctl enable --now tftpd-hpa" }],
      });
    }
    return changes;
  },
};
