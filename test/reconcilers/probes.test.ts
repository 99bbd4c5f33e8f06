// Probe scripts that decide what to read on the node, run here by sh against real files.
import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { buildServedFilesProbe, tftpServer } from "../../reconcilers/tftp-server.js";
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
