import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import addFormatsModule from "ajv-formats";
import standaloneModule from "ajv/dist/standalone/index.js";
import { packageRoot } from "../src/paths.js";

// ajv-formats and ajv's standalone are CommonJS; their default exports arrive wrapped under NodeNext.
type AddFormats = (ajv: Ajv, formats: string[]) => Ajv;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ??
  addFormatsModule) as AddFormats;
type Standalone = (ajv: Ajv, validate: unknown) => string;
const standalone = ((standaloneModule as unknown as { default?: Standalone }).default ??
  standaloneModule) as Standalone;

/** The ajv options the manifest is validated with: every error, strict, with the failing schema. */
export const AJV_OPTIONS = { allErrors: true, strict: true, strictTuples: false, verbose: true } as const;

/**
 * The committed schema compiled to a standalone ES module (ajv's standalone code): loading it costs
 * no schema compilation at run time. Its two runtime helpers come from ajv through `require`.
 */
export function buildValidatorSource(): string {
  const schema = JSON.parse(
    readFileSync(join(packageRoot(), "schema", "cluster.schema.json"), "utf8"),
  ) as object;
  const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true, esm: true } });
  addFormats(ajv, ["ipv4"]);
  return [
    "// @ts-nocheck",
    "/* Generated from schema/cluster.schema.json by `npm run gen:types` (ajv standalone). Do not edit. */",
    'import { createRequire } from "node:module";',
    "const require = createRequire(import.meta.url);",
    standalone(ajv, ajv.compile(schema)),
    "",
  ].join("\n");
}
