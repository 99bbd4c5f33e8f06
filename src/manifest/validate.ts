import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ErrorObject, ValidateFunction } from "ajv";
import { ManifestError, type Diagnostic } from "../errors.js";
import { packageRoot } from "../paths.js";
import { formatPath, readManifestSource, type ManifestPath, type ManifestSource } from "./load.js";
import { rules } from "./rules.js";
// The schema compiled at build time (ajv's standalone code, `npm run gen:types`): nothing compiles here.
import { validate as compiledSchema } from "./schema-validator.generated.js";
import { explainAddress, explainPattern, nearest } from "./explain.js";
import { controlCharacterIn } from "./text.js";
import type { Manifest } from "./types.generated.js";

/** The committed JSON Schema of cluster.yaml. */
export function readSchema(): object {
  return JSON.parse(readFileSync(join(packageRoot(), "schema", "cluster.schema.json"), "utf8")) as object;
}

const schemaValidator = (): ValidateFunction => compiledSchema as unknown as ValidateFunction;

function pointerToPath(pointer: string): ManifestPath {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
}

function valueAt(data: unknown, path: ManifestPath): unknown {
  return path.reduce<unknown>(
    (v, k) => (v !== null && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined),
    data,
  );
}

function describe(e: ErrorObject, data: unknown): { path: ManifestPath; key?: string; message: string } {
  const path = pointerToPath(e.instancePath);
  switch (e.keyword) {
    case "pattern": {
      const value = valueAt(data, path);
      const control = typeof value === "string" ? controlCharacterIn(value) : undefined;
      if (control !== undefined)
        return { path, message: `contains a control character (${control}): refused` };
      const words = typeof value === "string" ? explainPattern(e.schemaPath, value) : undefined;
      return {
        path,
        message: words ?? `${JSON.stringify(value)} must match ${(e.params as { pattern: string }).pattern}`,
      };
    }
    case "propertyNames": {
      const key = String((e.params as { propertyName: string }).propertyName);
      const control = controlCharacterIn(key);
      const words = explainPattern(e.schemaPath, key);
      return {
        path: [...path, key],
        key,
        message:
          control === undefined
            ? `key "${key}" is not allowed here${words ? `: ${words}` : ""}`
            : `a key contains a control character (${control}): refused`,
      };
    }
    case "additionalProperties": {
      const key = String((e.params as { additionalProperty: string }).additionalProperty);
      const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const guess = nearest(key, known);
      return {
        path: [...path, key],
        key,
        message: `unknown key "${key}"${guess ? ` (did you mean "${guess}"?)` : known.length > 0 ? ` (known here: ${known.join(", ")})` : ""}`,
      };
    }
    case "required": {
      // Point at the key that owns the incomplete mapping ("admin:"), not at its first entry.
      const owner = path[path.length - 1];
      const message = `missing required key "${String((e.params as { missingProperty: string }).missingProperty)}"`;
      return typeof owner === "string" ? { path, key: owner, message } : { path, message };
    }
    case "enum":
      return {
        path,
        message: `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(", ")}`,
      };
    case "const":
      return {
        path,
        message: `must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`,
      };
    case "format":
      return { path, message: explainAddress(String(valueAt(data, path))) };
    case "oneOf": {
      const description = (e.parentSchema as { description?: string } | undefined)?.description;
      return {
        path,
        message: `${JSON.stringify(valueAt(data, path))} is not valid here${description ? `: ${description}` : ""}`,
      };
    }
    default:
      return { path, message: e.message ?? e.keyword };
  }
}

/**
 * The errors worth showing: where a value failed one branch of an `anyOf` for a reason (a pattern,
 * a bound), the other branches' "must be integer" and the `anyOf` summary at that value or above it
 * are noise; a key's pattern is reported once, by its `propertyNames` error. Pure.
 */
function specificErrors(all: ErrorObject[], data: unknown): ErrorObject[] {
  // A oneOf failure is one line: its branches' own errors are dropped.
  const oneOfs = all.filter((e) => e.keyword === "oneOf").map((e) => e.schemaPath);
  const errors = all.filter((e) => !oneOfs.some((p) => e.schemaPath.startsWith(`${p}/`)));
  const generic = (e: ErrorObject) => e.keyword === "type" || e.keyword === "anyOf";
  const keyPattern = (e: ErrorObject) =>
    e.keyword === "pattern" && typeof valueAt(data, pointerToPath(e.instancePath)) !== "string";
  const specific = errors.filter((e) => !generic(e) && !keyPattern(e));
  const explained = (e: ErrorObject) =>
    specific.some(
      (s) => s.instancePath === e.instancePath || s.instancePath.startsWith(`${e.instancePath}/`),
    );
  return errors.filter((e) => !keyPattern(e) && !(generic(e) && explained(e)));
}

/** Checks parsed manifest data against the schema and the semantic rules; pure. Every problem, at once. */
export function validateManifest(source: ManifestSource): Diagnostic[] {
  const validate = schemaValidator();
  const at = (path: ManifestPath, message: string, key?: string): Diagnostic => {
    // The position of an unknown key is the key itself; of anything else, its value.
    const pos = key !== undefined ? source.position(path.slice(0, -1), key) : source.position(path);
    return { file: source.file, line: pos.line, col: pos.col, path: formatPath(path), message };
  };
  const seen = new Set<string>();
  const schemaProblems = validate(source.data)
    ? []
    : specificErrors(validate.errors ?? [], source.data)
        .map((e) => describe(e, source.data))
        .map((d) => at(d.path, d.message, d.key));
  // The rules run on a manifest that failed the schema too, so every problem shows at once; a rule
  // that cannot read what the schema already refused (a missing section) has nothing to add.
  const ruleProblems = rules.flatMap((rule) => {
    try {
      return rule(source.data as Manifest).map((p) => at(p.path, p.message));
    } catch (err) {
      if (err instanceof TypeError) return [];
      throw err;
    }
  });
  const schemaSpots = new Set(schemaProblems.map((d) => `${d.line}:${d.col}`));
  return [...schemaProblems, ...ruleProblems.filter((d) => !schemaSpots.has(`${d.line}:${d.col}`))]
    .filter((d) => {
      const k = `${d.line}:${d.col}:${d.message}`;
      return seen.has(k) ? false : (seen.add(k), true);
    })
    .sort((a, b) => a.line - b.line || a.col - b.col);
}

/** Reads, parses and validates a manifest file. Throws ManifestError listing every problem. */
export function loadManifest(path: string): Manifest {
  const source = readManifestSource(path);
  const diagnostics = validateManifest(source);
  if (diagnostics.length > 0) throw new ManifestError(diagnostics);
  return source.data as Manifest;
}
