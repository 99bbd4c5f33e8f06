// The launcher's code cache: keyed by bundle and command, read only from what is the user's alone,
// written atomically and privately, and the built bin works with it, without it, and past a planted one.
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { packageRoot } from "../../src/paths.js";
import {
  codeCachePath,
  commandOf,
  ownedAlone,
  readCodeCache,
  writeCodeCache,
} from "../../src/util/code-cache.js";
import { run } from "../../src/util/run.js";
import { tempDir } from "../helpers/temp.js";

const uid = process.getuid?.() ?? 0;

t.test("one cache per bundle, Node.js and command; a mistyped word is not a command", async (t) => {
  t.equal(commandOf(["reconcile", "-f", "x.yaml"]), "reconcile");
  t.equal(commandOf(["--json", "status"]), "status");
  t.equal(commandOf(["--help"]), "none");
  t.equal(commandOf(["../../etc/passwd"]), "none", "never a path");
  t.equal(
    codeCachePath("abc", ["validate"], { PICOTRADER_CACHE: "/c" }),
    `/c/code-abc-${process.version}-${process.arch}-validate.v8`,
  );
});

t.test("read only from a folder and a file of the user's own that nobody else may write", async (t) => {
  t.ok(ownedAlone({ uid, mode: 0o100600 }, uid));
  t.notOk(ownedAlone({ uid, mode: 0o100620 }, uid), "group-writable");
  t.notOk(ownedAlone({ uid, mode: 0o100602 }, uid), "writable by others");
  t.notOk(ownedAlone({ uid: uid + 1, mode: 0o100600 }, uid), "somebody else's");
  const dir = join(tempDir(t, "code-cache"), "cache");
  const file = join(dir, "code-b1-x.v8");
  writeCodeCache(file, Buffer.from("bytecode"), "b1");
  t.equal(statSync(dir).mode & 0o777, 0o700);
  t.equal(statSync(file).mode & 0o777, 0o600);
  t.equal(readCodeCache(file, uid)?.toString(), "bytecode");
  t.equal(readCodeCache(file, uid + 1), undefined, "not read for another user");
  chmodSync(file, 0o666);
  t.equal(readCodeCache(file, uid), undefined, "not read once others may write it");
  chmodSync(file, 0o600);
  chmodSync(dir, 0o777);
  t.equal(readCodeCache(file, uid), undefined, "not read from a folder others may write");
  chmodSync(dir, 0o700);
  t.equal(readCodeCache(join(dir, "missing.v8"), uid), undefined);
  // Another bundle's caches go; this bundle's other commands stay.
  writeCodeCache(join(dir, "code-b1-y.v8"), Buffer.from("other command"), "b1");
  writeCodeCache(join(dir, "code-b2-x.v8"), Buffer.from("new bundle"), "b2");
  t.strictSame(readdirSync(dir).sort(), ["code-b2-x.v8"]);
});

t.test(
  "the built bin: a cache after the first run, the same answer from it, a planted one replaced",
  async (t) => {
    const bin = join(packageRoot(), "dist", "bin", "picotrader.js");
    const cache = join(tempDir(t, "code-cache-bin"), "cache");
    const env = { ...process.env, PICOTRADER_CACHE: cache };
    const manifest = join(packageRoot(), "cluster.yaml");
    const first = await run("node", [bin, "validate", "-f", manifest], { env });
    t.equal(first.exitCode, 0, first.stderr);
    const [name] = readdirSync(cache).filter((n) => n.endsWith("-validate.v8"));
    t.ok(name, "a cache for validate");
    const file = join(cache, name as string);
    const made = readFileSync(file);
    const second = await run("node", [bin, "validate", "-f", manifest], { env });
    t.equal(second.stdout, first.stdout, "the same answer through the cache");
    t.ok(readFileSync(file).equals(made), "a cache that was used is not written again");
    const failed = await run("node", [bin, "validate", "-f", join(cache, "missing.yaml")], { env });
    t.equal(failed.exitCode, 1);
    // A planted file (not V8's, and writable by others): the run still answers, and the user's own
    // cache replaces it (that such a file is never read: the test above).
    writeFileSync(file, Buffer.alloc(made.length, 0x41));
    chmodSync(file, 0o666);
    const planted = await run("node", [bin, "validate", "-f", manifest], { env });
    t.equal(planted.stdout, first.stdout);
    t.equal(statSync(file).mode & 0o777, 0o600, "replaced by the user's own");
    t.notOk(readFileSync(file).equals(Buffer.alloc(made.length, 0x41)));
  },
);
