// Shell code that waits for something on a node by trying again each second: the one shape of
// every "until it answers" loop the reconcilers' steps run.
import { shellQuote } from "../../src/transport/quote.js";

/** What `retryEachSecond` tries, how long, and what it says when it gives up. */
export interface Retry {
  /** Shell code that fails while it is too early (a list: a pipeline, `&&`, a `[ ]` test). */
  command: string;
  /** How many tries, a second apart, before it gives up. */
  tries: number;
  /** The line stderr shows when it gives up. */
  failure: string;
  /**
   * Keeps the command's output (stdout and stderr together): printed on stdout once it succeeds,
   * on stderr before `failure` when it gives up.
   */
  output?: boolean;
  /**
   * Tries again only while the output holds one of these texts; any other failure fails at once,
   * its output on stderr. Keeps the output, as `output` does, without printing it on success.
   */
  onlyWhile?: string[];
  /** Shell code whose output tells why, run (to stderr) after `failure` when it gives up. */
  diagnose?: string;
}

/** The loop: tries `command` each second until it succeeds, at most `tries` times, else exits 1. Pure. */
export function retryEachSecond(r: Retry): string {
  const keep = r.output === true || r.onlyWhile !== undefined;
  const attempt = keep ? `out=$(${r.command} 2>&1)` : r.command;
  const dump = keep ? `printf '%s\\n' "$out" >&2; ` : "";
  const only = r.onlyWhile
    ? `case $out in ${r.onlyWhile.map((s) => `*${shellQuote(s)}*`).join("|")}) ;; *) ${dump}exit 1 ;; esac\n`
    : "";
  const diagnose = r.diagnose ? `${r.diagnose} >&2; ` : "";
  return `i=0; until ${attempt}; do
${only}i=$((i+1)); [ $i -ge ${r.tries} ] && { ${dump}printf '%s\\n' ${shellQuote(r.failure)} >&2; ${diagnose}exit 1; }; sleep 1; done${r.output === true ? `\nprintf '%s\\n' "$out"` : ""}`;
}
