import { readFileSync } from "node:fs";
import { join } from "node:path";
import { compile, type JSONSchema } from "json-schema-to-typescript";
import { packageRoot } from "../src/paths.js";

/** The TypeScript source that the committed schema implies. */
export async function buildTypesSource(): Promise<string> {
  const schema = JSON.parse(
    readFileSync(join(packageRoot(), "schema", "cluster.schema.json"), "utf8"),
  ) as JSONSchema;
  return compile(schema, "Manifest", {
    bannerComment: "/* Generated from schema/cluster.schema.json by `npm run gen:types`. Do not edit. */",
    additionalProperties: false,
    unreachableDefinitions: false,
    style: { printWidth: 110 },
  });
}
