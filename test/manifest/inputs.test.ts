// What a run reads on the controller besides the manifest: tftp.root stays inside the manifest's
// folder, nothing under it is skipped silently, and the image parts carry the size they were cut to.
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { buildReimageBootIni } from "../../reconcilers/generation.js";
import { readInputs, readLocalFiles } from "../../src/manifest/inputs.js";
import type { Manifest } from "../../src/manifest/types.generated.js";
import { PART_SIZE_FILE, prepareTftpRoot } from "../../src/tftp.js";
import { tempDir } from "../helpers/temp.js";

const dir = tempDir(t, "inputs");
const repo = join(dir, "repo");
mkdirSync(join(repo, "tftp", "c2"), { recursive: true });
writeFileSync(join(repo, "cluster.yaml"), "");
writeFileSync(join(dir, "id_ed25519"), "PRIVATE KEY");

t.test("tftp.root outside the manifest's folder, through a symlink or not, is an error", async (t) => {
  symlinkSync(dir, join(repo, "escape"));
  t.throws(() => readLocalFiles(join(repo, "escape"), repo), {
    message: /^tftp\.root: .*escape is .*outside the manifest's folder/,
  });
  t.throws(() => readLocalFiles(dir, repo), { message: /outside the manifest's folder/ });
});

t.test("a symlink inside tftp.root is an error naming it, not skipped", async (t) => {
  const root = join(repo, "tftp");
  writeFileSync(join(root, "c2", "image.part000"), "x");
  symlinkSync(join(dir, "id_ed25519"), join(root, "c2", "key"));
  t.throws(() => readLocalFiles(root, repo), {
    message: "tftp.root: c2/key is a symlink: copy the file in instead",
  });
  rmSync(join(root, "c2", "key"));
  writeFileSync(join(root, "c2", "a b"), "x");
  t.throws(() => readLocalFiles(root, repo), { message: /^tftp\.root: "c2\/a b": a name of letters/ });
  rmSync(join(root, "c2", "a b"));
  t.strictSame(Object.keys(readLocalFiles(root, repo)), ["c2/image.part000"]);
});

t.test("the parts' size goes beside SHA256SUMS and sets each part's offset on the eMMC", async (t) => {
  const image = join(dir, "image.img");
  writeFileSync(image, Buffer.alloc(3 * 8 * 1024 * 1024 - 100, 1));
  const out = join(repo, "tftp8");
  prepareTftpRoot(image, out, 8 * 1024 * 1024);
  const m = { tftp: { root: "tftp8" } } as unknown as Manifest;
  const inputs = readInputs(m, join(repo, "cluster.yaml"), {});
  t.equal(inputs.partSize, 8 * 1024 * 1024);
  t.equal(inputs.imageParts.length, 3);
  const node = { name: "n1", address: "10.1.0.11", roles: ["worker"] } as Manifest["nodes"][number];
  const ini = buildReimageBootIni(node, "10.1.0.14", inputs.imageParts, 2, inputs.partSize);
  t.strictSame(
    ini.split("\n").filter((l) => l.startsWith("mmc write")),
    [
      "mmc write ${loadaddr} 0x0 0x4000",
      "mmc write ${loadaddr} 0x4000 0x4000",
      "mmc write ${loadaddr} 0x8000 0x4000",
    ],
    "8 MiB parts: 0x4000 blocks apart, not 16 MiB",
  );
  rmSync(join(out, "c2", PART_SIZE_FILE));
  t.throws(() => readInputs(m, join(repo, "cluster.yaml"), {}), {
    message: "tftp.root: c2/PARTSIZE is missing: run picotrader tftp-prepare again",
  });
});
