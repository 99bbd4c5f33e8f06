/** Quotes a string for POSIX sh: the result is one word whatever the input holds. Pure. */
export function shellQuote(value: string): string {
  if (/^[A-Za-z0-9_\-./=:@,+%]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
