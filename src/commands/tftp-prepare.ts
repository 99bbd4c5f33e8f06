// `picotrader tftp-prepare IMAGE`: the TFTP server's files (image parts, sums, boot files) from an image.
import type { Command } from "commander";
import { PicoError } from "../errors.js";
import { example, type Finish } from "./options.js";

export function defineTftpPrepare(program: Command, finish: Finish): void {
  program
    .command("tftp-prepare")
    .description(
      "lay out what the TFTP server serves (image parts, SHA256SUMS, boot files) from an image file",
    )
    .argument("<image>", "the board's image file (uncompressed)")
    .option("--boot <dir>", "a folder of boot files (kernel, initrd, dtb) to serve under c2/boot")
    .option("--out <dir>", "the output folder: the manifest's tftp.root", "tftp")
    .option("--part-size <size>", "the size of each image part (64K, 16M, 1G)", "16M")
    .addHelpText(
      "after",
      example("picotrader tftp-prepare ubuntu-20.04-odroidc2.img --boot boot/ --out tftp"),
    )
    .action(async (image: string, flags: { boot?: string; out: string; partSize: string }) => {
      const { parseSize, prepareTftpRoot } = await import("../tftp.js");
      const partSize = parseSize(flags.partSize);
      if (partSize === 0 || partSize % 512 !== 0)
        throw new PicoError(`--part-size must be a whole number of 512-byte blocks, not ${flags.partSize}`);
      const sums = prepareTftpRoot(image, flags.out, partSize, flags.boot);
      process.stdout.write(
        `${flags.out}/c2: ${sums.length} part(s) and SHA256SUMS${flags.boot ? `, boot files from ${flags.boot}` : ""}\n`,
      );
      finish(0);
    });
}
