import { shellQuote } from "../transport/quote.js";
import type { Guard } from "./types.js";

/** Where a guarded apply keeps what it saved, per transaction. */
export const ROLLBACK_DIR = "/var/lib/picotrader/rollback";

/** Where the dead-man timer notes each restore it made ("<time> <transaction>" lines), until an apply reads it. */
export const DEADMAN_LOG = "/var/lib/picotrader/deadman-restored";

/** The environment variable that marks every process of a transaction's steps, so a restore can stop them. */
export const TXN_MARK = "PICOTRADER_TXN";

/**
 * What runs before each step of a transaction: the mark, and a refusal once the transaction is no
 * longer armed (the dead-man restored the node while the controller was cut off: nothing more of
 * it may run). Pure.
 */
export function buildTxnPrefix(txn: string): string {
  return `export ${TXN_MARK}=${txn}
[ -e ${ROLLBACK_DIR}/${txn}/armed ] || { echo "access transaction ${txn} is over (restored by the dead-man timer?): not run" >&2; exit 75; }`;
}

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
    "umask 077",
    `d=${dir}`,
    "# No step of the transaction may start from now on; those still running are stopped first,",
    "# so that the node ends with the old state, not a mix (twice: a step may have forked meanwhile).",
    `rm -f "$d/armed"`,
    "for round in 1 2; do",
    "  for e in /proc/[0-9]*/environ; do",
    "    pid=${e#/proc/}; pid=${pid%/environ}",
    '    [ "$pid" = "$$" ] && continue',
    `    tr '\\0' '\\n' < "$e" 2>/dev/null | grep -qx '${TXN_MARK}=${txn}' && kill -KILL "$pid" 2>/dev/null`,
    "  done",
    "done",
    `while IFS= read -r p; do [ -n "$p" ] && rm -rf -- "$p"; done < "$d/paths"`,
    `[ -s "$d/saved.tar" ] && tar -xpf "$d/saved.tar" -C /`,
    ...reactivate.map((c) => `( ${c} ) || true`),
    "# A controller that died mid-change left its lock behind: release it with the change.",
    "rm -rf /run/picotrader/lock",
    `if [ "\${1:-}" = deadman ]; then echo "$(date -u +%FT%TZ) ${txn}" >> ${DEADMAN_LOG}; fi`,
  ].join("\n");
  return [
    "set -e",
    "umask 077",
    `d=${dir}`,
    `mkdir -p "$d"`,
    `chmod 700 /var/lib/picotrader ${ROLLBACK_DIR}`,
    `: > "$d/paths"`,
    `set --`,
    ...paths.map(
      (p) =>
        `printf '%s\\n' ${shellQuote(p)} >> "$d/paths"; if [ -e ${shellQuote(p)} ]; then set -- "$@" ${shellQuote(p.replace(/^\//, ""))}; fi`,
    ),
    `if [ $# -gt 0 ]; then tar -cpf "$d/saved.tar" -C / "$@"; else : > "$d/saved.tar"; fi`,
    `cat > "$d/restore.sh" <<'PICOTRADER_RESTORE'\n${restore}\nPICOTRADER_RESTORE`,
    `chmod 700 "$d/restore.sh"`,
    `: > "$d/armed"`,
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
    // AccuracySec=1s: a transient timer may otherwise fire up to a minute late.
    `  systemd-run --quiet --unit=${deadmanUnit(txn)} --on-active=${seconds}s --timer-property=AccuracySec=1s /bin/sh ${restore} deadman`,
    "else",
    `  setsid nohup sh -c 'sleep ${seconds}; [ -e ${ROLLBACK_DIR}/${txn}/restore.sh ] && sh ${restore} deadman' >/dev/null 2>&1 < /dev/null &`,
    `  echo $! > ${ROLLBACK_DIR}/${txn}/deadman.pid`,
    "fi",
  ].join("\n");
}

/**
 * Cancels the dead-man and forgets the transaction. With `proven`, it first checks that the
 * transaction is still armed (exit 75 when the timer already restored the node). Pure.
 */
export function buildDisarmCommand(txn: string, proven = false): string {
  const dir = `${ROLLBACK_DIR}/${txn}`;
  return [
    ...(proven
      ? [`[ -e ${dir}/armed ] || { echo "already restored by the dead-man timer" >&2; exit 75; }`]
      : []),
    `systemctl stop ${deadmanUnit(txn)}.timer ${deadmanUnit(txn)}.service 2>/dev/null || true`,
    `[ -f ${dir}/deadman.pid ] && kill "$(cat ${dir}/deadman.pid)" 2>/dev/null || true`,
    `rm -rf ${dir}`,
  ].join("\n");
}

/** Runs restore.sh now over the open connection, then disarms. Pure. */
export function buildRollbackCommand(txn: string): string {
  return `sh ${ROLLBACK_DIR}/${txn}/restore.sh && { ${buildDisarmCommand(txn).split("\n").join("; ")}; }`;
}
