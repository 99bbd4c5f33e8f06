import { randomBytes } from "node:crypto";
import { cachedProbe, probeCacheFile } from "./probe-cache.js";
import { shellQuote } from "./quote.js";

/** A section of the batched probe: one concern's read-only script. */
export interface ProbeSection {
  name: string;
  script: string;
}

/** One concern's raw answer. */
export interface ProbeAnswer {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** A random marker so that nothing a probe prints can be taken for a section boundary. */
export function newNonce(): string {
  return randomBytes(8).toString("hex");
}

/**
 * Joins the sections into one POSIX sh script, run with one exec. Each section runs in a subshell
 * (its `exit` and its failures stay its own), one after the other, its stdout streamed as it comes
 * and its stderr captured in the shell's memory: one fork per section and no helper process, so
 * observing costs the node little more than the probes' own commands. Pure.
 */
export function buildProbeScript(
  sections: ProbeSection[],
  nonce: string,
  units: string[] = [],
  files: string[] = [],
): string {
  const lines = [
    "export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "exec 3>&1",
    buildFileTablePrelude(units.length > 0 ? [...files, UNIT_STATE_CACHE] : files),
    buildUnitStatePrelude(units),
  ];
  for (const s of sections)
    lines.push(`printf '@@${nonce} begin %s\\n' '${s.name}'`, framedRun(s.script, nonce));
  return lines.join("\n") + "\n";
}

/**
 * Runs a script in a subshell with standard input /dev/null, its stdout streamed to fd 3 as it
 * comes and its stderr captured in the shell's memory, then prints its exit code and stderr
 * between two markers ({@link framedTail}): one section of the probe, or one script of the kept
 * root shell. Pure.
 */
export function framedRun(script: string, nonce: string): string {
  return `e=$( {\n${script}\n} 2>&1 >&3 3>&- </dev/null ); r=$?
printf '\\n@@${nonce} stderr %s\\n' "$r"; [ -z "$e" ] || printf '%s\\n' "$e"; printf '\\n@@${nonce} end\\n'`;
}

/** What {@link framedRun} prints after the script's stdout, as a pattern: groups exit code, stderr. */
export function framedTail(nonce: string): string {
  return `\\n@@${nonce} stderr (\\d+)\\n([\\s\\S]*?)\\n@@${nonce} end\\n`;
}

/**
 * Where systemd looks for a system unit's file, drop-ins and SysV-generated units: the union of
 * `systemd-analyze unit-paths` over the releases we meet (a folder that does not exist costs one
 * stat, and a folder too many only makes the probe ask systemd more).
 */
export const SYSTEMD_UNIT_DIRS = [
  "/etc/systemd/system.control",
  "/run/systemd/system.control",
  "/run/systemd/transient",
  "/run/systemd/generator.early",
  "/etc/systemd/system",
  "/etc/systemd/system.attached",
  "/run/systemd/system",
  "/run/systemd/system.attached",
  "/run/systemd/generator",
  "/usr/local/lib/systemd/system",
  "/lib/systemd/system",
  "/usr/lib/systemd/system",
  "/run/systemd/generator.late",
];

/**
 * The unit folders whose entries decide a unit's file state. Not /run/systemd/transient: every
 * login's session scope is written there, and no declared unit is transient (a declared unit's own
 * file there still counts: see buildUnitStatePrelude).
 */
const UNIT_FILE_STATE_DIRS = SYSTEMD_UNIT_DIRS.filter((d) => d !== "/run/systemd/transient");

/** Where the probe keeps the units' file states systemd last gave it (buildUnitStatePrelude). */
export const UNIT_STATE_CACHE = probeCacheFile("@units");

/**
 * Defines `unit_state NAME` for the sections: it sets `unit_active` and `unit_enabled` to what
 * `systemctl is-active` and `systemctl is-enabled` would print, read before the sections run for
 * every unit the concerns declared (a systemctl start costs a small board more than the rest of a
 * section) into a table of every name a unit goes by with its two states, which `unit_state` looks
 * up by pattern matching. The active states come from one `systemctl is-active` of every declared
 * unit, in order (a property read each: systemd does little for it). The names and file states come
 * from one `systemctl show -p Names,UnitFileState`, which makes systemd serialise every property
 * of each unit (the dearest part of the probe's start); what it printed is kept on the node with
 * `cachedProbe`, keyed by the unit folders, the folders in them (a `.wants` link, a drop-in, a mask
 * or a package's new unit each changes one) and each declared unit's own paths there (an edit in
 * place), so while none of them changes one `stat` stands for the show (a `daemon-reload` rewrites
 * the generators' folders, so a reload also shows again). A SysV service (UnitFileState
 * "generated") is enabled when it has a start link in rc5.d or rcS.d, as Debian's
 * systemd-sysv-install decides, read on every probe. A name nobody declared is asked of systemctl
 * itself, so a missing declaration costs time, not facts.
 * A declared service that has no file, link or drop-in (its own or its template's) in any of
 * SYSTEMD_UNIT_DIRS, and no invocation id (systemd removes it when a unit stops, and a running
 * unit keeps it), is not asked of systemd: it is inactive, with no unit file state, as systemd
 * would answer after searching those same folders. Only a service whose file was deleted after it
 * failed reads inactive, not failed.
 * `units_active GLOB` prints the names of the active units that match a pattern (as
 * `systemctl list-units --state=active GLOB` does, which it runs: declare names, not patterns).
 * Needs the file table's functions (buildFileTablePrelude) defined before it, with UNIT_STATE_CACHE
 * among its files. `root` prefixes every path the prelude reads and the cache (tests only). Pure.
 */
export function buildUnitStatePrelude(units: string[], root = ""): string {
  const names = [...new Set(units)].filter((u) => !/[[\]*?]/.test(u));
  const dirs = SYSTEMD_UNIT_DIRS.map((d) => shellQuote(root + d)).join(" ");
  const stateDirs = UNIT_FILE_STATE_DIRS.map((d) => shellQuote(root + d)).join(" ");
  // The show, kept while its key stays: the names it is asked for (its records go with is-active's
  // lines in their order), the unit folders and the folders in them (set as "$@" before it, by
  // globs), and each declared unit's own file in each folder (written out here: a shell loop that
  // builds the list costs more than the show it spares).
  const unitFiles = names.flatMap((n) => {
    const unit = n.includes(".") ? n : `${n}.service`;
    const at = unit.indexOf("@");
    const template = at < 0 ? [] : [`${unit.slice(0, at)}@${unit.slice(unit.lastIndexOf("."))}`];
    return SYSTEMD_UNIT_DIRS.flatMap((d) => [unit, ...template].map((u) => shellQuote(`${root}${d}/${u}`)));
  });
  const show = cachedProbe(
    root + UNIT_STATE_CACHE,
    ['"$@"', ...unitFiles],
    "  systemctl show -p Names,UnitFileState -- $ud_names 2>/dev/null",
    "$ud_names",
  );
  return `unit_absent() {
  [ -L ${shellQuote(`${root}/run/systemd/units`)}/"invocation:$1" ] && return 1
  case $1 in *@*) set -- "$1" "\${1%%@*}@.\${1##*.}" ;; esac
  for ua_dir in ${dirs}; do
    for ua_name in "$@"; do
      [ -e "$ua_dir/$ua_name" ] || [ -L "$ua_dir/$ua_name" ] || [ -e "$ua_dir/$ua_name.d" ] && return 1
    done
  done
  return 0
}
units_table=' ' units_shown= units_live=
set --
for ud_name in ${names.map(shellQuote).join(" ")}; do
  case $ud_name in
    *.service) unit_absent "$ud_name" && { units_table="$units_table$ud_name=inactive, "; continue; } ;;
    *.*) ;;
    *) unit_absent "$ud_name.service" && { units_table="$units_table$ud_name.service=inactive, "; continue; } ;;
  esac
  set -- "$@" "$ud_name"
done
if [ $# -gt 0 ]; then
  units_live=$(systemctl is-active -- "$@" 2>/dev/null)$nl
  ud_names=$*
  units_shown=$(
    set --
    for ud_dir in ${stateDirs}; do set -- "$@" "$ud_dir" "$ud_dir"/*/; done
${show}
  ) || units_shown=
fi
# Each record of the show (its names and file state, then a blank line) goes with the next line of
# is-active's answer: a unit that has no name or no answer there is asked of systemctl by unit_state.
ue_seen= ue_names= ue_enabled=
while IFS= read -r ue_line; do
  case $ue_line in
    Names=*) ue_seen=1 ue_names=\${ue_line#Names=} ;;
    UnitFileState=*) ue_seen=1 ue_enabled=\${ue_line#*=} ;;
    '') [ -n "$ue_seen" ] || continue
      ue_active=\${units_live%%"$nl"*}; units_live=\${units_live#*"$nl"}
      [ -n "$ue_active" ] && for ue_name in $ue_names; do units_table="$units_table$ue_name=$ue_active,$ue_enabled "; done
      ue_seen= ue_names= ue_enabled= ;;
  esac
done <<PICOTRADER_UNITS
$units_shown

PICOTRADER_UNITS
unit_state() {
  case $1 in *.*) us_name=$1 ;; *) us_name=$1.service ;; esac
  case $units_table in
    *" $us_name="*) us_state=\${units_table#*" $us_name="}; us_state=\${us_state%%" "*}
      unit_active=\${us_state%%,*} unit_enabled=\${us_state#*,} ;;
    *) unit_active=$(systemctl is-active "$us_name" 2>/dev/null)
      unit_enabled=$(systemctl is-enabled "$us_name" 2>/dev/null) ;;
  esac
  if [ "$unit_enabled" = generated ]; then
    unit_enabled=disabled
    for us_link in /etc/rc5.d/S??"\${us_name%.service}" /etc/rcS.d/S??"\${us_name%.service}"; do
      [ -e "$us_link" ] && unit_enabled=enabled
    done
  fi
  return 0
}
units_active() {
  systemctl list-units --state=active --plain --no-legend -- "$1" 2>/dev/null | while read -r ua_name _; do
    printf '%s\\n' "$ua_name"
  done
  return 0
}`;
}

/** The paths the file table holds: absolute, of characters that need no quoting in sh nor in awk. */
const TABLE_PATH = /^\/[A-Za-z0-9._/@:+-]+$/;

/**
 * Defines `file_read PATH`, which sets `file_body` to the file's exact content (and fails when it
 * is not a regular file), and `file_text PATH`, which prints it as `cat` would. The regular,
 * non-empty files among those the concerns declared are read by one awk before the sections run,
 * each into a shell variable of its own (a `cat` per file cost a process start each, about as much
 * as the awk for all of them): awk reads each file as one record (its separator is a sequence no
 * text file holds, and one found is put back), quotes it for sh (`'` as `'"'"'`) and the shell
 * evals the assignments only when awk succeeded. A path nobody declared, or one outside
 * TABLE_PATH, is read by `cat` itself, so a missing declaration costs time, not facts. Pure.
 */
export function buildFileTablePrelude(files: string[]): string {
  const paths = [...new Set(files)].filter((p) => TABLE_PATH.test(p));
  const functions = `nl='
'
file_read() {
  case $1 in
${paths.map((p, i) => `    ${p}) [ -z "\${file_${i}+set}" ] || { file_body=$file_${i}; return 0; } ;;\n`).join("")}  esac
  [ -f "$1" ] || return 1
  [ -s "$1" ] || { file_body=; return 0; }
  file_body=$(cat -- "$1" && echo .) || return 1
  file_body=\${file_body%.}
}
file_text() {
  file_read "$1" && printf '%s' "$file_body"
}`;
  if (paths.length === 0) return functions;
  return `${functions}
set --
for ft_path in ${paths.join(" ")}; do [ -f "$ft_path" ] && [ -s "$ft_path" ] && set -- "$@" "$ft_path"; done
[ $# -eq 0 ] || { ft_out=$(awk 'BEGIN { RS = "\\001\\036\\002"; q = sprintf("%c", 39); ${paths
    .map((p, i) => `k["${p}"] = ${i}`)
    .join("; ")} }
FNR == 1 { if (NR > 1) print q; printf "file_%d=%s", k[FILENAME], q }
{ gsub(q, q "\\"" q "\\"" q); printf "%s%s", (FNR > 1 ? RS : ""), $0 }
END { if (NR > 0) print q }' "$@") && eval "$ft_out"; }`;
}

/** What the probe prints for one section (the fake transport answers with it). Pure. */
export function renderProbeAnswer(nonce: string, name: string, a: ProbeAnswer): string {
  return `@@${nonce} begin ${name}\n${a.stdout}\n@@${nonce} stderr ${a.exitCode}\n${a.stderr}\n@@${nonce} end\n`;
}

/** The section names of a batched probe script, in order. Pure. */
export function probeSectionNames(script: string): string[] {
  return [...script.matchAll(/begin %s\\n' '([^']+)'/g)].map((m) => m[1] as string);
}

/** Splits the batched probe's output into answers by section name. Pure. */
export function parseProbeOutput(output: string, nonce: string): Map<string, ProbeAnswer> {
  const answers = new Map<string, ProbeAnswer>();
  const re = new RegExp(`@@${nonce} begin (\\S+)\\n([\\s\\S]*?)${framedTail(nonce)}`, "g");
  for (const m of output.matchAll(re)) {
    answers.set(m[1] as string, { exitCode: Number(m[3]), stdout: m[2] as string, stderr: m[4] as string });
  }
  return answers;
}
