// The trust boundary of the manifest: hostile values are refused at validate, with file:line:col,
// before any connection; and no string of the schema can reach a node unconstrained.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { formatDiagnostic, ManifestError } from "../../src/errors.js";
import { MAX_ALIAS_COUNT, MAX_MANIFEST_BYTES, parseManifestSource } from "../../src/manifest/load.js";
import { readSchema, validateManifest } from "../../src/manifest/validate.js";

interface HostileCase {
  name: string;
  yaml: string;
  errors: string[];
}

function diagnose(text: string, file: string): string[] {
  try {
    return validateManifest(parseManifestSource(text, file)).map(formatDiagnostic);
  } catch (err) {
    if (!(err instanceof ManifestError)) throw err;
    return err.diagnostics.map(formatDiagnostic);
  }
}

const cases = JSON.parse(
  readFileSync(join(import.meta.dirname, "..", "fixtures", "manifests", "hostile.json"), "utf8"),
) as HostileCase[];

t.test("every hostile manifest of the table is refused, each problem at its file:line:col", async (t) => {
  t.ok(cases.length >= 20);
  for (const c of cases) {
    t.ok(c.errors.length > 0, `${c.name}: the table expects a refusal`);
    t.strictSame(diagnose(c.yaml, "hostile.yaml"), c.errors, c.name);
  }
});

t.test("the table's manifests are valid once the hostile part is gone", async (t) => {
  const base = cases.find((c) => c.name.startsWith("nodes[].sshPort"));
  t.ok(base);
  t.strictSame(diagnose((base as HostileCase).yaml.replace(", sshPort: 2222", ""), "ok.yaml"), []);
});

t.test("an alias bomb is a clear error, not a stack trace", async (t) => {
  const rows = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
  for (const [i, name] of ["b", "c", "d", "e", "f"].entries())
    rows.push(`${name}: &${name} [${Array(10).fill(`*${"abcde"[i]}`).join(", ")}]`);
  t.strictSame(diagnose(rows.join("\n") + "\n", "bomb.yaml"), [
    `bomb.yaml:1:1: error: (root): too many alias expansions (more than ${MAX_ALIAS_COUNT}): Excessive alias count indicates a resource exhaustion attack`,
  ]);
});

t.test("a manifest over the size cap is refused before parsing", async (t) => {
  const started = process.hrtime.bigint();
  const huge = `# ${"x".repeat(MAX_MANIFEST_BYTES)}\n`;
  t.strictSame(diagnose(huge, "huge.yaml"), [
    `huge.yaml:1:1: error: (root): more than ${MAX_MANIFEST_BYTES} bytes: refused`,
  ]);
  t.ok(process.hrtime.bigint() - started < 1_000_000_000n, "refused without parsing");
});

// Characters that must never reach a node inside a value: each breaks a line or a word somewhere.
const CONTROLS = ["\n", "\r", "\t", "\0", "\u0085", "\u2028", "\u2029", "\u001b", "\u007f"];

/** Every schema node that describes a string, with its JSON pointer. */
function stringSchemas(schema: unknown, at = "#"): { at: string; node: Record<string, unknown> }[] {
  if (schema === null || typeof schema !== "object") return [];
  const node = schema as Record<string, unknown>;
  const own = node.type === "string" ? [{ at, node }] : [];
  return [
    ...own,
    ...Object.entries(node).flatMap(([k, v]) =>
      Array.isArray(v)
        ? v.flatMap((item, i) => stringSchemas(item, `${at}/${k}/${i}`))
        : stringSchemas(v, `${at}/${k}`),
    ),
  ];
}

t.test(
  "the schema walk: every string is an enum, a format, or a pattern that refuses control characters",
  async (t) => {
    const found = stringSchemas(readSchema());
    t.ok(found.length >= 25, `${found.length} string schemas walked`);
    for (const { at, node } of found) {
      if (node.enum !== undefined || node.const !== undefined || node.format === "ipv4") continue;
      t.type(node.pattern, "string", `${at}: constrained by a pattern`);
      if (typeof node.pattern !== "string") continue;
      const re = new RegExp(node.pattern, "u");
      // A value the pattern accepts, to plant each control character in.
      const samples = [
        ...((node.examples as unknown[] | undefined) ?? []),
        "a",
        "ab",
        "/bin/bash",
        "n1",
        "tftp",
      ];
      const sample = samples.find((s): s is string => typeof s === "string" && re.test(s));
      t.ok(sample !== undefined, `${at}: a sample value matches (add "examples")`);
      if (sample === undefined) continue;
      const mid = Math.ceil(sample.length / 2);
      const planted = CONTROLS.flatMap((c) => [
        c + sample,
        sample + c,
        sample.slice(0, mid) + c + sample.slice(mid),
        `${sample}${c}${sample}`,
      ]);
      t.strictSame(
        planted.filter((v) => re.test(v)).map((v) => JSON.stringify(v)),
        [],
        `${at}: no control character gets through`,
      );
    }
  },
);
