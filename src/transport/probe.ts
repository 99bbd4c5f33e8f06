import { randomBytes } from "node:crypto";

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
 * Joins the sections into one POSIX sh script, run with one exec. The sections run concurrently,
 * each in a subshell with its output captured, so one slow or failing probe cannot break or hide
 * another; answers are printed in the sections' order. Pure.
 */
export function buildProbeScript(sections: ProbeSection[], nonce: string): string {
  const lines = [
    "t=$(mktemp -d) || exit 70",
    `trap 'rm -rf "$t"' EXIT`,
    "export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  ];
  sections.forEach((s, i) => {
    lines.push(`( (\n${s.script}\n) >"$t/o${i}" 2>"$t/e${i}" </dev/null; echo $? >"$t/r${i}" ) &`);
  });
  lines.push("wait");
  sections.forEach((s, i) => {
    lines.push(
      `printf '@@${nonce} begin %s %s\\n' '${s.name}' "$(cat "$t/r${i}")"; cat "$t/o${i}"; printf '\\n@@${nonce} stderr\\n'; cat "$t/e${i}"; printf '\\n@@${nonce} end\\n'`,
    );
  });
  return lines.join("\n") + "\n";
}

/** Splits the batched probe's output into answers by section name. Pure. */
export function parseProbeOutput(output: string, nonce: string): Map<string, ProbeAnswer> {
  const answers = new Map<string, ProbeAnswer>();
  const re = new RegExp(
    `@@${nonce} begin (\\S+) (\\d+)\\n([\\s\\S]*?)\\n@@${nonce} stderr\\n([\\s\\S]*?)\\n@@${nonce} end\\n`,
    "g",
  );
  for (const m of output.matchAll(re)) {
    answers.set(m[1] as string, { exitCode: Number(m[2]), stdout: m[3] as string, stderr: m[4] as string });
  }
  return answers;
}
