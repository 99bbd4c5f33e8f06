// Writes src/manifest/types.generated.ts and src/manifest/schema-validator.generated.ts from
// schema/cluster.schema.json (npm run gen:types). The schema is the source of truth;
// test/manifest/schema-types.test.ts fails when either drifts from it.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildTypesSource } from "./types-source.js";
import { buildValidatorSource } from "./validator-source.js";
import { packageRoot } from "../src/paths.js";

const dir = join(packageRoot(), "src", "manifest");
writeFileSync(join(dir, "types.generated.ts"), await buildTypesSource());
writeFileSync(join(dir, "schema-validator.generated.ts"), buildValidatorSource());
