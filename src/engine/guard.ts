import { shellQuote } from "../transport/quote.js";
import type { Guard } from "./types.js";

/** Where a guarded apply keeps what it saved, per transaction. */
export const ROLLBACK_DIR = "/var/lib/picotrader/rollback";

/**
 * The command that saves every guarded path (a tar of those that exist, a list of those that do
 * not) and writes restore.sh, which puts them back and re-activates them. Pure.
 */
export function buildSnapshotCommand(txn: string, guards: Guard[]): string {
  const dir = `${ROLLBACK_DIR}/${txn}`;
  const paths = [...new Set(guards.flatMap((g) => g.paths))];
  const reactivate = [...new Set(guards.flatMap((g) => g.reactivate))];
  const restore = [
    "#!/bin/sh",
    `# Restores what PicoTrader's access change ${txn} may have changed; run by the engine or the dead-man timer.`,
    "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    `d=${dir}`,
    `while IFS= read -r p; do [ -n "$p" ] && rm -rf -- "$p"; done < "$d/paths"`,
    `[ -s "$d/saved.tar" ] && tar -xpf "$d/saved.tar" -C /`,
    ...reactivate.map((c) => `( ${c} ) || true`),
    "# A controller that died mid-change left its lock behind: release it with the change.",
    "rm -rf /run/picotrader/lock",
    `echo "restored by $0 at $(date -u +%FT%TZ)" >> "$d/restored"`,
  ].join("\n");
  return [
    "set -e",
    `d=${dir}`,
    `mkdir -p "$d"`,
    `: > "$d/paths"`,
    `set --`,
    ...paths.map(
      (p) =>
        `printf '%s\\n' ${shellQuote(p)} >> "$d/paths"; if [ -e ${shellQuote(p)} ]; then set -- "$@" ${shellQuote(p.replace(/^\//, ""))}; fi`,
    ),
    `if [ $# -gt 0 ]; then tar -cpf "$d/saved.tar" -C / "$@"; else : > "$d/saved.tar"; fi`,
    `cat > "$d/restore.sh" <<'PICOTRADER_RESTORE'\n${restore}\nPICOTRADER_RESTORE`,
    `chmod 700 "$d/restore.sh"`,
  ].join("\n");
}

/** Unit name of a transaction's dead-man timer. */
export function deadmanUnit(txn: string): string {
  return `picotrader-deadman-${txn}`;
}

/**
 * Arms the dead-man: in `seconds`, restore.sh runs unless cancelled, even if the controller or
 * its connection dies. A transient systemd timer where systemd runs, else a detached sleep. Pure.
 */
export function buildArmCommand(txn: string, seconds: number): string {
  const restore = `${ROLLBACK_DIR}/${txn}/restore.sh`;
  return [
    "if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null; then",
    `  systemd-run --quiet --unit=${deadmanUnit(txn)} --on-active=${seconds}s /bin/sh ${restore}`,
    "else",
    `  setsid nohup sh -c 'sleep ${seconds}; [ -e ${ROLLBACK_DIR}/${txn}/restore.sh ] && sh ${restore}' >/dev/null 2>&1 < /dev/null &`,
    `  echo $! > ${ROLLBACK_DIR}/${txn}/deadman.pid`,
    "fi",
  ].join("\n");
}

/** Cancels the dead-man and forgets the transaction (the change was proven). Pure. */
export function buildDisarmCommand(txn: string): string {
  const dir = `${ROLLBACK_DIR}/${txn}`;
  return [
    `systemctl stop ${deadmanUnit(txn)}.timer ${deadmanUnit(txn)}.service 2>/dev/null || true`,
    `[ -f ${dir}/deadman.pid ] && kill "$(cat ${dir}/deadman.pid)" 2>/dev/null || true`,
    `rm -rf ${dir}`,
  ].join("\n");
}

/** Runs restore.sh now over the open connection, then disarms. Pure. */
export function buildRollbackCommand(txn: string): string {
  return `sh ${ROLLBACK_DIR}/${txn}/restore.sh && { ${buildDisarmCommand(txn).split("\n").join("; ")}; }`;
}
