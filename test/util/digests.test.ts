import { createHash } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { DigestCache, sha256File } from "../../src/util/digests.js";
import { tempDir } from "../helpers/temp.js";

const sha = (text: string) => createHash("sha256").update(text).digest("hex");

t.test("a digest is computed once per version of a file, then read from the cache", async (t) => {
  const dir = tempDir(t, "digests");
  const file = join(dir, "part");
  const cacheFile = join(dir, "cache", "digests.json");
  writeFileSync(file, "first");
  t.strictSame(new DigestCache(cacheFile).read(file), {
    size: 5,
    mtime: Math.floor(statSync(file).mtimeMs / 1000),
    sha256: sha("first"),
  });
  const cold = new DigestCache(cacheFile);
  cold.read(file);
  cold.save();
  t.equal(statSync(cacheFile).mode & 0o777, 0o600, "the cache is the user's alone");
  // A forged entry for the same version is believed: proof that the file was not read again.
  const entries = JSON.parse(readFileSync(cacheFile, "utf8")) as Record<string, { sha256: string }>;
  (entries[file] as { sha256: string }).sha256 = "f".repeat(64);
  writeFileSync(cacheFile, JSON.stringify(entries));
  t.equal(new DigestCache(cacheFile).read(file).sha256, "f".repeat(64));
  // A new version (same name, same size) is read again.
  writeFileSync(file, "other");
  t.equal(new DigestCache(cacheFile).read(file).sha256, sha("other"));
  // A broken cache is no cache.
  writeFileSync(cacheFile, "{not json");
  t.equal(new DigestCache(cacheFile).read(file).sha256, sha("other"));
  t.equal(sha256File(file), sha("other"));
});
