import { readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { buildTypesSource } from "../../tools/types-source.js";
import { buildValidatorSource } from "../../tools/validator-source.js";

t.test("the committed TypeScript types are what the committed schema implies", async (t) => {
  const committed = readFileSync(
    join(import.meta.dirname, "..", "..", "src", "manifest", "types.generated.ts"),
    "utf8",
  );
  t.equal(
    committed,
    await buildTypesSource(),
    "run `npm run gen:types` after changing schema/cluster.schema.json",
  );
});

t.test("the committed standalone validator is what the committed schema compiles to", async (t) => {
  const committed = readFileSync(
    join(import.meta.dirname, "..", "..", "src", "manifest", "schema-validator.generated.ts"),
    "utf8",
  );
  t.ok(
    committed === buildValidatorSource(),
    "run `npm run gen:types` after changing schema/cluster.schema.json",
  );
});

t.test("the schema documents every property for editors", async (t) => {
  const schema = JSON.parse(
    readFileSync(join(import.meta.dirname, "..", "..", "schema", "cluster.schema.json"), "utf8"),
  ) as object;
  const undocumented: string[] = [];
  const walk = (node: unknown, path: string) => {
    if (typeof node !== "object" || node === null) return;
    const props = (node as { properties?: Record<string, unknown> }).properties;
    for (const [k, v] of Object.entries(props ?? {})) {
      const p = v as { description?: string; $ref?: string };
      if (!p.description && !p.$ref && !["address", "names"].includes(k)) undocumented.push(`${path}.${k}`);
      walk(v, `${path}.${k}`);
    }
    walk((node as { items?: unknown }).items, `${path}[]`);
  };
  walk(schema, "");
  t.strictSame(undocumented, []);
});
