// Probe scripts that decide what to read on the node, run here by sh against real files.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { buildServedFilesProbe, tftpServer } from "../../reconcilers/tftp-server.js";
import { buildUpgradableProbe, updates } from "../../reconcilers/updates.js";
import { sha256File } from "../../src/util/digests.js";
import { run } from "../../src/util/run.js";

t.test(
  "served files: the size and mtime of the controller's copy stand for its digest; others are hashed",
  async (t) => {
    const root = mkdtempSync(join(tmpdir(), "picotrader-served-"));
    mkdirSync(join(root, "c2"));
    const put = (rel: string, content: string, mtime: number) => {
      writeFileSync(join(root, rel), content);
      utimesSync(join(root, rel), mtime, mtime);
    };
    put("c2/same", "served as copied", 1700000000);
    put("c2/edited", "edited by hand!!", 1700000000); // as long as the copy, but touched later:
    utimesSync(join(root, "c2/edited"), 1700000999, 1700000999);
    put("c2/resized", "short", 1700000000);
    put("extra file", "not on the controller", 1700000000);
    const desired = {
      files: Object.fromEntries(
        ["c2/same", "c2/edited", "c2/resized"].map((rel) => [
          rel,
          { sha256: `${rel === "c2/same" ? "a" : "b"}`.repeat(64), from: "/x", size: 16, mtime: 1700000000 },
        ]),
      ),
    };
    const r = await run("sh", ["-c", buildServedFilesProbe(desired, root)]);
    t.equal(r.exitCode, 0, r.stderr);
    t.strictSame(tftpServer.parse(`active=active\nenabled=enabled\n${r.stdout}`).files, {
      // Taken on trust from size and mtime, as the copy step left it: not read.
      "c2/same": "a".repeat(64),
      // Read and hashed: the mtime or the size differs from the controller's copy.
      "c2/edited": sha256File(join(root, "c2/edited")),
      "c2/resized": sha256File(join(root, "c2/resized")),
      "extra file": sha256File(join(root, "extra file")),
    });
    const missing = await run("sh", ["-c", buildServedFilesProbe(desired, join(root, "nowhere"))]);
    t.strictSame([missing.exitCode, missing.stdout], [0, ""], "no folder: no files");
  },
);

t.test("upgradable packages: apt is asked again only when a file it reads changed", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "picotrader-apt-"));
  mkdirSync(join(dir, "bin"));
  mkdirSync(join(dir, "preferences.d"));
  writeFileSync(join(dir, "status"), "Package: foo\nStatus: install ok installed\n");
  // apt-get as the simulation prints an upgrade; each call leaves a line in `calls`.
  writeFileSync(
    join(dir, "bin", "apt-get"),
    `#!/bin/sh\necho x >> ${dir}/calls\necho 'Inst foo [1.0] (1.1 Debian-Security:12/stable-security [amd64])'\n`,
  );
  chmodSync(join(dir, "bin", "apt-get"), 0o755);
  const script = buildUpgradableProbe(join(dir, "cache", "updates"), [
    join(dir, "status"),
    join(dir, "preferences.d", "*"),
  ]);
  const probe = async () => {
    const r = await run("sh", ["-c", script], {
      env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH}` },
    });
    t.equal(r.exitCode, 0, r.stderr);
    return updates.parse(r.stdout).upgradable;
  };
  const calls = () => readFileSync(join(dir, "calls"), "utf8").split("\n").length - 1;
  const foo = [{ name: "foo", security: true }];
  t.strictSame(await probe(), foo, "read from apt");
  t.strictSame([await probe(), calls()], [foo, 1], "then from the cache");
  writeFileSync(join(dir, "status"), "Package: foo\nStatus: hold ok installed\n");
  t.strictSame([await probe(), calls()], [foo, 2], "dpkg's status changed: apt again");
  t.strictSame([await probe(), calls()], [foo, 2], "and the cache again after it");
  writeFileSync(join(dir, "preferences.d", "pin"), "Package: foo\nPin: version 1.0\nPin-Priority: 1001\n");
  t.strictSame([await probe(), calls()], [foo, 3], "a pinning file added: apt again");
  writeFileSync(join(dir, "cache", "updates"), "garbage");
  t.strictSame([await probe(), calls()], [foo, 4], "a cache it cannot read is made again");
});
