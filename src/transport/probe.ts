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
 * Joins the sections into one POSIX sh script, run with one exec. Each section runs in a subshell
 * (its `exit` and its failures stay its own), one after the other, its stdout streamed as it comes
 * and its stderr captured in the shell's memory: one fork per section and no helper process, so
 * observing costs the node little more than the probes' own commands. Pure.
 */
export function buildProbeScript(sections: ProbeSection[], nonce: string): string {
  const lines = [
    "export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "exec 3>&1",
  ];
  for (const s of sections)
    lines.push(
      `printf '@@${nonce} begin %s\\n' '${s.name}'`,
      `e=$( {\n${s.script}\n} 2>&1 >&3 3>&- </dev/null ); r=$?`,
      `printf '\\n@@${nonce} stderr %s\\n' "$r"; [ -z "$e" ] || printf '%s\\n' "$e"; printf '\\n@@${nonce} end\\n'`,
    );
  return lines.join("\n") + "\n";
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
  const re = new RegExp(
    `@@${nonce} begin (\\S+)\\n([\\s\\S]*?)\\n@@${nonce} stderr (\\d+)\\n([\\s\\S]*?)\\n@@${nonce} end\\n`,
    "g",
  );
  for (const m of output.matchAll(re)) {
    answers.set(m[1] as string, { exitCode: Number(m[3]), stdout: m[2] as string, stderr: m[4] as string });
  }
  return answers;
}
