// Writes src/manifest/types.generated.ts from schema/cluster.schema.json (npm run gen:types).
// The schema is the source of truth; test/manifest/schema-types.test.ts fails when they drift.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildTypesSource } from "./types-source.js";
import { packageRoot } from "../src/paths.js";

writeFileSync(join(packageRoot(), "src", "manifest", "types.generated.ts"), await buildTypesSource());
