/** Parses `key=value` lines (the first `=` splits); later keys win. Pure. */
export function parseKeyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** A config file's meaningful lines: comments and blank lines dropped, spacing collapsed. Pure. */
export function normaliseConfigLines(text: string, comment = "#"): string[] {
  return text
    .split("\n")
    .map((line) => line.trim().split(/\s+/).join(" "))
    .filter((line) => line !== "" && !line.startsWith(comment));
}

/** What differs between two line lists, for a change's before/after: lines only one of them has. Pure. */
export function lineDelta(before: string[], after: string[]): { removed: string[]; added: string[] } {
  return {
    removed: before.filter((l) => !after.includes(l)),
    added: after.filter((l) => !before.includes(l)),
  };
}
