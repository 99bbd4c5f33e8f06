import type { Step } from "../engine/types.js";
import { shellQuote } from "./quote.js";

/** Where replaced files are kept on a node, by path and time. */
export const BACKUP_DIR = "/var/lib/picotrader/backup";

/** How many backups of one file a node keeps. */
export const BACKUPS_KEPT = 5;

/**
 * The remote command (and standard input) that performs a step. A write goes to a temp file in the
 * target's folder, gets owner and mode, the old file is copied to BACKUP_DIR, then one rename
 * replaces it: a reader sees the old file or the new one, never half of one. A step `from` a
 * controller file gets that file as its standard input (`stdinFile`). Pure.
 */
export function buildStepCommand(step: Exclude<Step, { kind: "reboot" }>): {
  command: string;
  stdin?: string;
  stdinFile?: string;
} {
  if (step.kind === "run") return { command: step.command };
  const p = shellQuote(step.path);
  const command = [
    "set -e",
    `p=${p}`,
    `mkdir -p "$(dirname "$p")"`,
    `tmp=$(mktemp "$(dirname "$p")/.picotrader.XXXXXX")`,
    `trap 'rm -f "$tmp"' EXIT`,
    `cat > "$tmp"`,
    ...(step.mtime === undefined ? [] : [`touch -m -d @${Math.trunc(step.mtime)} "$tmp"`]),
    `chown ${shellQuote(`${step.owner}:${step.group}`)} "$tmp"`,
    `chmod ${shellQuote(step.mode)} "$tmp"`,
    ...(step.validate
      ? [
          `set -- "$tmp"`,
          `if ! ( ${step.validate} ) >&2; then echo "validation of the new ${step.path} failed" >&2; exit 65; fi`,
        ]
      : []),
    // Backups are root's alone (0600 in 0700 folders, whatever the umask): they may hold keys or
    // hashes. The newest BACKUPS_KEPT of each file stay; the glob lists them oldest first.
    `if [ -e "$p" ]; then (`,
    `  umask 077; b=${BACKUP_DIR}"$p"; mkdir -p ${BACKUP_DIR} "$(dirname "$b")"; chmod 700 ${BACKUP_DIR}`,
    `  cp --preserve=timestamps "$p" "$b.$(date -u +%Y%m%dT%H%M%S.%NZ)"; chmod 600 "$b".[0-9]*Z`,
    `  set -- "$b".[0-9]*Z; n=$#; for f; do [ "$n" -le ${BACKUPS_KEPT} ] || rm -f -- "$f"; n=$((n - 1)); done`,
    `) fi`,
    `mv -f "$tmp" "$p"`,
    "trap - EXIT",
  ].join("\n");
  // A controller file is streamed as it is, with constant memory, whatever its size.
  return step.from === undefined ? { command, stdin: step.content } : { command, stdinFile: step.from };
}
