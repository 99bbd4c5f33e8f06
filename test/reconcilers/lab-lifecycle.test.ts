// The node lifecycle on real lab nodes: a TFTP server node serving files made by tftp-prepare,
// `boot: tftp` then `boot: emmc` on one node (rebooted each time, the boot partition exactly stock at
// the end, the other nodes untouched), and a rebuild by generation through a real TFTP fetch:
// refused without --allow-rebuild and confirmation, done with them, and failing visibly (the node
// left bootable) when a part's checksum is wrong.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import t from "tap";
import { labManifest } from "../../src/lab/lab.js";
import { packageRoot } from "../../src/paths.js";
import type { ReconcileReport } from "../../src/report/json.js";
import { run } from "../../src/util/run.js";
import { bootMark as labBootMark, picotrader, sshAdmin, useLab } from "../helpers/lab.js";
import { tempDir } from "../helpers/temp.js";

const NAME = "tlife";
const lab = await useLab(t, NAME, 3);

if (lab) {
  const dir = tempDir(t, "test");
  const file = join(dir, "lab.yaml");
  // A lab-sized stand-in for HardKernel's image, and stand-in kernel files.
  writeFileSync(join(dir, "standin.img"), randomBytes(200_000));
  mkdirSync(join(dir, "kernel"));
  for (const f of ["Image", "meson64_odroidc2.dtb", "uInitrd"])
    writeFileSync(join(dir, "kernel", f), `stand-in ${f}\n`);
  const base = labManifest(lab, { runtime: false })
    .replace("nodes:", "tftp:\n  root: tftp\nnodes:")
    .replace("roles: [worker]", "roles: [worker, tftp]");
  const write = (node1: string, node2: string) =>
    writeFileSync(
      file,
      base
        .replace(
          "    roles: [control-plane]\n  - name: node2",
          `    roles: [control-plane]\n${node1}  - name: node2`,
        )
        .replace("  - name: node3", `${node2}  - name: node3`),
    );
  const reconcile = (...args: string[]) => picotrader(lab, ["reconcile", "-f", file, ...args]);
  const dryRun = async () => {
    const r = await reconcile("--dry-run", "--detailed-exitcode", "--json");
    return { exitCode: r.exitCode, report: JSON.parse(r.stdout) as ReconcileReport };
  };
  const bootMark = (node: string) => labBootMark(lab, node);
  const bootFiles = async (node: string) =>
    (await sshAdmin(lab, node, "cd /media/boot && find . -type f | sort | xargs sha256sum")).stdout;
  const knownHosts = join("/var/lib/picotrader-lab", NAME, "known_hosts");
  const supervisorLog = (node: string) =>
    readFileSync(join("/var/lib/picotrader-lab", NAME, "nodes", node, "supervisor.log"), "utf8");

  t.test("tftp-prepare lays out the server's files; the TFTP node serves them", async (t) => {
    const prep = await run("node", [
      join(packageRoot(), "dist", "bin", "picotrader.js"),
      "tftp-prepare",
      join(dir, "standin.img"),
      "--boot",
      join(dir, "kernel"),
      "--out",
      join(dir, "tftp"),
      "--part-size",
      "64K",
    ]);
    t.equal(prep.exitCode, 0, prep.stderr);
    t.match(prep.stdout, /4 part\(s\) and SHA256SUMS, boot files from/);
    write("", "");
    const r = await reconcile("--yes");
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, /tftp-server: copy 9 file\(s\)/);
    const served = await sshAdmin(
      lab,
      "node3",
      "systemctl is-active tftpd-hpa; cd /srv/tftp && find c2 -type f | sort | xargs sha256sum",
    );
    const local = await run("sh", [
      "-c",
      'cd "$1" && find c2 -type f | sort | xargs sha256sum',
      "sh",
      join(dir, "tftp"),
    ]);
    t.strictSame(
      served.stdout.trim().split("\n"),
      ["active", ...local.stdout.trim().split("\n")],
      "the TFTP node serves exactly the prepared files, byte for byte (4 parts, SHA256SUMS, PARTSIZE, boot files)",
    );
    t.match(local.stdout, / {2}c2\/PARTSIZE\n/);
    t.equal((await dryRun()).exitCode, 0, "the second run plans nothing");
  });

  t.test(
    "boot: tftp then boot: emmc: rebooted each time, the boot partition stock again at the end",
    async (t) => {
      const stock = await bootFiles("node1");
      const before = await Promise.all(["node1", "node2", "node3"].map(bootMark));
      write("    boot: tftp\n", "");
      const toTftp = await reconcile("--yes");
      t.equal(toTftp.exitCode, 0, toTftp.stderr);
      t.match(
        toTftp.stderr,
        /\[node1\] boot: boot from TFTP \(stock boot\.ini saved as \/media\/boot\/boot\.ini\.emmc\), reboot\n\[node1\] rebooting\n\[node1\] back on a new boot/,
      );
      t.not(await bootMark("node1"), before[0], "node1 rebooted");
      t.strictSame(
        [await bootMark("node2"), await bootMark("node3")],
        before.slice(1),
        "the other nodes were not rebooted",
      );
      t.match(supervisorLog("node1"), /TFTP: fetched c2\/boot\/Image from 10\.88\.0\.13/);
      const env = await sshAdmin(lab, "node1", "tr '\\0' '\\n' < /proc/1/environ | grep PICOTRADER_LAB_BOOT");
      t.equal(env.stdout.trim(), "PICOTRADER_LAB_BOOT=tftp", "the node booted its kernel from TFTP");
      t.equal((await dryRun()).exitCode, 0, "the second run plans nothing");

      const onTftp = await bootMark("node1");
      write("    boot: emmc\n", "");
      const back = await reconcile("--yes");
      t.equal(back.exitCode, 0, back.stderr);
      t.not(await bootMark("node1"), onTftp, "node1 rebooted again");
      t.equal(await bootFiles("node1"), stock, "the files on /media/boot are exactly the stock ones");
      const env2 = await sshAdmin(
        lab,
        "node1",
        "tr '\\0' '\\n' < /proc/1/environ | grep PICOTRADER_LAB_BOOT",
      );
      t.equal(env2.stdout.trim(), "PICOTRADER_LAB_BOOT=emmc");
      t.strictSame(
        [await bootMark("node2"), await bootMark("node3")],
        before.slice(1),
        "the other nodes are still untouched",
      );
      t.equal((await dryRun()).exitCode, 0);
    },
  );

  t.test(
    "a higher generation: the plan names the rebuild; refused without --allow-rebuild and confirmation",
    async (t) => {
      await sshAdmin(lab, "node2", "touch /root/made-before-the-rebuild");
      write("", "    generation: 2\n");
      const plan = await dryRun();
      t.equal(plan.exitCode, 2);
      const change = plan.report.plan.nodes[1]?.changes[0];
      t.equal(change?.concern, "generation");
      t.equal(change?.risk, "destroy");
      t.match(change?.summary, /REBUILD: re-image the node from TFTP \(generation 1 -> 2\)/);
      const before = await bootMark("node2");
      const withheld = await reconcile("--detailed-exitcode", "--yes");
      t.equal(withheld.exitCode, 2, "not applied: still pending");
      t.match(withheld.stderr, /rebuild of node2 planned, not applied: pass --allow-rebuild/);
      const unconfirmed = await reconcile("--allow-rebuild");
      t.equal(unconfirmed.exitCode, 1);
      t.match(
        unconfirmed.stderr,
        /\d+ changes? on 1 node not approved \(answer y on a terminal, or pass --yes\): nothing was applied/,
      );
      t.equal(await bootMark("node2"), before, "node2 was not touched");
    },
  );

  t.test(
    "with --allow-rebuild --yes: re-imaged through TFTP, bootstrapped, converged, new generation recorded",
    async (t) => {
      const pinned = () =>
        readFileSync(knownHosts, "utf8")
          .split("\n")
          .filter((l) => l.startsWith("10.88.0.12 "));
      const keyBefore = pinned();
      t.equal(keyBefore.length, 1, "node2's key is pinned before");
      const r = await reconcile("--allow-rebuild", "--yes");
      t.equal(r.exitCode, 0, r.stderr);
      t.match(
        r.stderr,
        /\[node2\] rebooting to re-image\n\[node2\] back on a new boot\n\[node2\] rebuilt; observing the fresh node as root \(key\)\n\[node2\] admin-user:/,
      );
      t.match(
        supervisorLog("node2"),
        /TFTP: fetched c2\/image\.part003 from 10\.88\.0\.13[\s\S]*re-imaging: every part fetched and verified/,
      );
      const wiped = await sshAdmin(
        lab,
        "node2",
        "ls /root/made-before-the-rebuild 2>&1; grep '\"generation\"' /var/lib/picotrader/state.json",
      );
      t.match(wiped.stdout, /No such file or directory/, "the node was wiped");
      t.match(wiped.stdout, /"generation": 2/, "it records the new generation");
      t.equal((await dryRun()).exitCode, 0, "the second run plans nothing");
      // A re-imaged board has a new host key: the rebuild replaced the pinned one, and only that one.
      t.equal(pinned().length, 1);
      t.not(pinned()[0], keyBefore[0], "the new host key replaced the old one in known_hosts");
    },
  );

  t.test(
    "a wrong checksum on the TFTP server: the rebuild fails clearly, the node stays bootable",
    async (t) => {
      // One byte changed (its value plus one: the image is random, so a fixed byte could be there
      // already, 1 run in 256).
      const part = "/srv/tftp/c2/image.part001";
      const flipped = await sshAdmin(
        lab,
        "node3",
        `b=$(dd if=${part} bs=1 skip=10 count=1 2>/dev/null | od -An -tu1 | tr -d ' ') && printf "\\\\$(printf %o $(( (b + 1) % 256 )))" | dd of=${part} bs=1 seek=10 conv=notrunc 2>/dev/null`,
      );
      t.equal(flipped.exitCode, 0, flipped.stderr);
      await sshAdmin(lab, "node2", "touch /root/still-here");
      write("", "    generation: 3\n");
      // --only node2: the TFTP node is not reconciled, so its broken part stays as it is.
      const r = await reconcile("--allow-rebuild", "--yes", "--only", "node2");
      t.equal(r.exitCode, 1);
      t.match(
        r.stdout,
        /re-imaging failed: TFTP: checksum mismatch for c2\/image\.part001 from 10\.88\.0\.13: want [0-9a-f]{64}, got [0-9a-f]{64}/,
      );
      const node2 = await sshAdmin(
        lab,
        "node2",
        "ls /root/still-here && grep '\"generation\"' /var/lib/picotrader/state.json && ls /media/boot",
      );
      t.equal(node2.exitCode, 0, "node2 booted its old system");
      t.match(node2.stdout, /"generation": 2/);
      t.match(node2.stdout, /^boot\.ini$/m, "the stock boot.ini is back");
      // The whole cluster: the TFTP node's part is repaired first, then the rebuild succeeds.
      const fixed = await reconcile("--allow-rebuild", "--yes");
      t.equal(fixed.exitCode, 0, fixed.stderr);
      t.match(fixed.stderr, /\[node3\] tftp-server: copy 1 file\(s\)[\s\S]*\[node2\] rebuilt/);
      t.equal((await dryRun()).exitCode, 0);
    },
  );
}
