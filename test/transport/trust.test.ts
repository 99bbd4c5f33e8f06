// Which host keys may receive the bootstrap password besides those pinned before the run.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { run } from "../../src/util/run.js";
import type { Manifest } from "../../src/manifest/types.generated.js";
import { fingerprintOf, parseFingerprints } from "../../src/transport/ssh.js";
import { readHostTrust } from "../../src/trust.js";
import { tempDir } from "../helpers/temp.js";

const FP1 = "SHA256:8Fs9Lc/4dAkZdihfszPfGgagH0Np6KSbVPjrRaOmwEI";
const FP2 = "SHA256:2COWZBAavB87sC1SSegM4zEDZPTpwD9ywzDmruP96r0";

t.test("fingerprints as OpenSSH prints them: SHA256 and unpadded base64", async (t) => {
  const key = join(tempDir(t, "fp"), "k");
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
  const blob = Buffer.from(readFileSync(`${key}.pub`, "utf8").split(" ")[1] ?? "", "base64");
  const printed = (await run("ssh-keygen", ["-l", "-f", `${key}.pub`])).stdout.split(" ")[1];
  t.match(printed, /^SHA256:/);
  t.equal(fingerprintOf(blob), printed, "the same as ssh-keygen -l");
  t.strictSame(parseFingerprints(`node1=${FP1}, node2=${FP2} junk node3=MD5:aa`), { node1: FP1, node2: FP2 });
});

t.test("the manifest's fingerprints, then the command line's; a malformed flag is an error", async (t) => {
  const m = {
    nodes: [
      { name: "node1", address: "10.0.0.1", roles: ["worker"], hostKeyFingerprint: FP1 },
      { name: "node2", address: "10.0.0.2", roles: ["worker"] },
    ],
  } as unknown as Manifest;
  t.strictSame(readHostTrust(m).fingerprints, { node1: FP1 });
  t.strictSame(readHostTrust(m, [`node1=${FP2}`, `node2=${FP1}`]).fingerprints, { node1: FP2, node2: FP1 });
  t.throws(() => readHostTrust(m, ["node1=SHA256:short"]), {
    message: "--host-fingerprint takes NODE=SHA256:<43 characters>, not node1=SHA256:short",
  });
  t.equal(await readHostTrust(m).confirm("node1", FP1), false, "no terminal: nobody confirms");
});
