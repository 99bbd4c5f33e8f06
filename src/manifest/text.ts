// What no value of a manifest may carry to a node or to a terminal.

/** Characters no value may carry to a node: C0 controls, DEL, NEL and the Unicode line separators. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f\u0085\u2028\u2029]/u;

/** The first control character of `text` as "U+000A", or undefined. Pure. */
export function controlCharacterIn(text: string): string | undefined {
  const c = CONTROL.exec(text)?.[0];
  return c === undefined ? undefined : `U+${c.codePointAt(0)?.toString(16).toUpperCase().padStart(4, "0")}`;
}
