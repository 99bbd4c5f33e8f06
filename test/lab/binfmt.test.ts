import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { binfmtRecordPath, ensureArm64Emulation, removeArm64Emulation } from "../../src/lab/binfmt.js";
import { emulatedBuildInProgress } from "../../src/lab/image.js";
import { tempDir } from "../helpers/temp.js";

t.test(
  "the lab registers qemu-aarch64 with the C and F flags only when missing, and undoes only that",
  async (t) => {
    const dir = tempDir(t, "binfmt");
    const mount = join(dir, "binfmt_misc");
    const labRoot = join(dir, "labs");
    mkdirSync(mount);
    mkdirSync(labRoot);
    writeFileSync(join(mount, "register"), "");
    const conf = join(dir, "qemu-aarch64.conf");
    writeFileSync(
      conf,
      ":qemu-aarch64:M::\\x7fELF:\\xff\\xff:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:OP\n",
    );
    const said = await ensureArm64Emulation(labRoot, { mount, conf });
    t.match(said, /^registered qemu-aarch64 \(\/usr\/libexec\/qemu-binfmt\/aarch64-binfmt-P\)/);
    t.equal(
      readFileSync(join(mount, "register"), "utf8"),
      ":qemu-aarch64:M::\\x7fELF:\\xff\\xff:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:OPCF",
    );
    t.strictSame(JSON.parse(readFileSync(binfmtRecordPath(labRoot), "utf8")), {
      mounted: false,
      registered: true,
    });
    // The kernel made the entry: a second lab changes nothing and keeps the record.
    writeFileSync(join(mount, "qemu-aarch64"), "enabled\n");
    t.equal(await ensureArm64Emulation(labRoot, { mount, conf }), undefined);
    t.equal(await removeArm64Emulation(labRoot, mount), "unregistered qemu-aarch64");
    t.equal(readFileSync(join(mount, "qemu-aarch64"), "utf8"), "-1", "the entry was told to go");
    t.notOk(existsSync(binfmtRecordPath(labRoot)));
    t.equal(await removeArm64Emulation(labRoot, mount), undefined, "nothing left to undo");
    // A host that already had the entry: nothing is registered, nothing is undone later.
    const fresh = join(dir, "labs2");
    mkdirSync(fresh);
    t.equal(await ensureArm64Emulation(fresh, { mount, conf }), undefined);
    t.notOk(existsSync(binfmtRecordPath(fresh)));
    // Without qemu-user-static: a clear error naming the package.
    await t.rejects(ensureArm64Emulation(fresh, { mount, conf: join(dir, "missing.conf") }), {
      message: /arm64 nodes need qemu-user-static .*apt-get install qemu-user-static/,
    });
  },
);

t.test("an arm64 image build under way keeps the emulation: only a live builder's lock counts", async (t) => {
  const cache = tempDir(t, "cache");
  t.notOk(emulatedBuildInProgress(cache), "no build");
  mkdirSync(join(cache, "image-abc.lock"));
  writeFileSync(join(cache, "image-abc.lock", "pid"), String(process.pid));
  t.notOk(emulatedBuildInProgress(cache), "an amd64 build needs no emulation");
  mkdirSync(join(cache, "image-abc-arm64.lock"));
  writeFileSync(join(cache, "image-abc-arm64.lock", "pid"), "2147483646");
  t.notOk(emulatedBuildInProgress(cache), "a dead builder's lock does not count");
  writeFileSync(join(cache, "image-abc-arm64.lock", "pid"), String(process.pid));
  t.ok(emulatedBuildInProgress(cache), "a live builder's does");
});
