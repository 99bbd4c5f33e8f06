// `picotrader tftp-prepare`: lays out what the cluster's TFTP server serves, from a downloaded
// image file: c2/image.partNNN (fixed-size parts), c2/SHA256SUMS, and c2/boot/ (kernel and boot
// files copied from a folder). The manifest's `tftp.root` names the result.
import { createHash } from "node:crypto";
import {
  closeSync,
  copyFileSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { basename, join } from "node:path";
import { PicoError } from "./errors.js";

/** "16M", "64K", "1048576" -> bytes; throws on anything else. Pure. */
export function parseSize(text: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(text.trim());
  if (!m) throw new PicoError(`not a size: "${text}" (use 64K, 16M, 1G)`);
  const unit = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[
    (m[2] ?? "").toUpperCase() as "" | "K" | "M" | "G"
  ];
  return Number(m[1]) * unit;
}

/** The file beside SHA256SUMS that gives the size, in bytes, every part but the last was cut to. */
export const PART_SIZE_FILE = "PARTSIZE";

/** Splits `image` into parts under `out/c2`, writes SHA256SUMS, copies `bootDir`'s files to c2/boot. */
export function prepareTftpRoot(image: string, out: string, partSize: number, bootDir?: string): string[] {
  const c2 = join(out, "c2");
  // The image and the boot files are checked before anything of the old output is removed.
  let fd: number;
  try {
    fd = openSync(image, "r");
    if (bootDir !== undefined) readdirSync(bootDir);
  } catch (err) {
    throw new PicoError(
      `tftp-prepare: cannot read ${(err as { path?: string }).path ?? image}: ${(err as Error).message}`,
    );
  }
  rmSync(c2, { recursive: true, force: true });
  mkdirSync(join(c2, "boot"), { recursive: true });
  const sums: string[] = [];
  try {
    const buffer = Buffer.alloc(partSize);
    for (let i = 0; ; i++) {
      const n = readSync(fd, buffer, 0, partSize, null);
      if (n === 0) break;
      const name = `image.part${String(i).padStart(3, "0")}`;
      const part = buffer.subarray(0, n);
      writeFileSync(join(c2, name), part);
      sums.push(`${createHash("sha256").update(part).digest("hex")}  ${name}`);
    }
  } finally {
    closeSync(fd);
  }
  if (sums.length === 0) throw new PicoError(`${image} is empty`);
  writeFileSync(join(c2, "SHA256SUMS"), `${sums.join("\n")}\n`);
  // Re-imaging writes part i at i × the part size: the size goes with the sums it belongs to.
  writeFileSync(join(c2, PART_SIZE_FILE), `${partSize}\n`);
  for (const f of bootDir ? readdirSync(bootDir) : [])
    copyFileSync(join(bootDir as string, f), join(c2, "boot", basename(f)));
  return sums;
}
