import { randomBytes } from "node:crypto";
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
    buildUnitStatePrelude(units),
    buildFileTablePrelude(files),
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
 * Defines `unit_state NAME` for the sections: it sets `unit_active` and `unit_enabled` to what
 * `systemctl is-active` and `systemctl is-enabled` would print, read from one `systemctl show` of
 * every unit the concerns declared, made once before the sections run (a systemctl start costs a
 * small board more than the rest of a section) and read once into a table of every name a unit
 * goes by with its two states, which `unit_state` looks up by pattern matching. A SysV service
 * (UnitFileState "generated") is enabled when it has a start link in rc5.d or rcS.d, as Debian's
 * systemd-sysv-install decides. A name nobody declared is asked of systemctl itself, so a missing
 * declaration costs time, not facts.
 * A declared service that has no file, link or drop-in (its own or its template's) in any of
 * SYSTEMD_UNIT_DIRS, and no invocation id (systemd removes it when a unit stops, and a running
 * unit keeps it), is not asked of systemd: it is inactive, with no unit file state, as systemd
 * would answer after searching those same folders (one systemd lookup each, the dearest part of
 * the show). Only a service whose file was deleted after it failed reads inactive, not failed.
 * `units_active GLOB` prints the names of the active units that match a declared pattern (as
 * `systemctl list-units --state=active GLOB` does). No process starts in either function
 * (`units_each` walks the shown units with a loop that reads a here-document). `root` prefixes
 * every path the prelude reads (tests only). Pure.
 */
export function buildUnitStatePrelude(units: string[], root = ""): string {
  const unique = [...new Set(units)];
  const dirs = SYSTEMD_UNIT_DIRS.map((d) => shellQuote(root + d)).join(" ");
  return `units_declared=${shellQuote(unique.join(" "))}
unit_absent() {
  [ -L ${shellQuote(`${root}/run/systemd/units`)}/"invocation:$1" ] && return 1
  case $1 in *@*) set -- "$1" "\${1%%@*}@.\${1##*.}" ;; esac
  for ua_dir in ${dirs}; do
    for ua_name in "$@"; do
      [ -e "$ua_dir/$ua_name" ] || [ -L "$ua_dir/$ua_name" ] || [ -e "$ua_dir/$ua_name.d" ] && return 1
    done
  done
  return 0
}
units_table=' ' units_shown=
set --
for ud_name in ${unique.map(shellQuote).join(" ")}; do
  case $ud_name in
    *[][*?]*) ;;
    *.service) unit_absent "$ud_name" && { units_table="$units_table$ud_name=inactive, "; continue; } ;;
    *.*) ;;
    *) unit_absent "$ud_name.service" && { units_table="$units_table$ud_name.service=inactive, "; continue; } ;;
  esac
  set -- "$@" "$ud_name"
done
[ $# -eq 0 ] || units_shown=$(systemctl show -p Names,ActiveState,UnitFileState -- "$@" 2>/dev/null)
units_each() {
  ue_names= ue_active= ue_enabled=
  while IFS= read -r ue_line; do
    case $ue_line in
      Names=*) ue_names=\${ue_line#Names=} ;;
      ActiveState=*) ue_active=\${ue_line#*=} ;;
      UnitFileState=*) ue_enabled=\${ue_line#*=} ;;
      '') [ -z "$ue_names" ] || "$1"
        ue_names= ue_active= ue_enabled= ;;
    esac
  done <<PICOTRADER_UNITS
$units_shown

PICOTRADER_UNITS
}
ut_add() {
  for ut_name in $ue_names; do units_table="$units_table$ut_name=$ue_active,$ue_enabled "; done
}
units_each ut_add
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
ua_match() {
  case \${ue_names%% *} in $ua_glob) [ "$ue_active" = active ] && printf '%s\\n' "\${ue_names%% *}" ;; esac
  return 0
}
units_active() {
  case " $units_declared " in
    *" $1 "*) ;;
    *) systemctl list-units --state=active --plain --no-legend -- "$1" 2>/dev/null | while read -r ua_name _; do
        printf '%s\\n' "$ua_name"
      done
      return 0 ;;
  esac
  ua_glob=$1
  units_each ua_match
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
