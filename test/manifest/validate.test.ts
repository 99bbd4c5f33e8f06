import { readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { formatDiagnostic, ManifestError } from "../../src/errors.js";
import { parseManifestSource } from "../../src/manifest/load.js";
import { loadManifest, validateManifest } from "../../src/manifest/validate.js";

const dir = join(import.meta.dirname, "..", "fixtures", "manifests");

t.test("the example cluster.yaml validates", async (t) => {
  const m = loadManifest(join(import.meta.dirname, "..", "..", "cluster.yaml"));
  t.equal(m.admin.user, "sysman");
  t.equal(m.cluster.virtualIp, "192.168.0.200");
  t.ok(m.nodes.length >= 2);
});

t.test("broken manifests: every problem at once, as file:line:col: path: problem", async (t) => {
  const expected = JSON.parse(readFileSync(join(dir, "expected.json"), "utf8")) as Record<string, string[]>;
  for (const [file, messages] of Object.entries(expected)) {
    const text = readFileSync(join(dir, file), "utf8");
    let got: string[];
    try {
      got = validateManifest(parseManifestSource(text, file)).map(formatDiagnostic);
    } catch (err) {
      if (!(err instanceof ManifestError)) throw err;
      got = err.diagnostics.map(formatDiagnostic);
    }
    t.strictSame(got, messages, file);
  }
});

t.test("a missing file is a ManifestError naming it", async (t) => {
  t.throws(() => loadManifest("/nonexistent/cluster.yaml"), {
    name: "ManifestError",
    message: /cluster\.yaml:1:1: error: \(root\): cannot read/,
  });
});
