// `picotrader hash-password`: a sha512-crypt hash for rootPassword.hash, made by `openssl passwd -6`.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { PicoError } from "../errors.js";
import { example, type Finish } from "./options.js";

export function defineHashPassword(program: Command, finish: Finish): void {
  program
    .command("hash-password")
    .description(
      "a sha512-crypt hash for rootPassword.hash: the password asked twice, or the first line of stdin",
    )
    .addHelpText(
      "after",
      example("picotrader hash-password", "printf '%s\\n' \"$PASSWORD\" | picotrader hash-password"),
    )
    .action(async () => {
      const { promptSecret } = await import("../prompt.js");
      const { run } = await import("../util/run.js");
      let password: string;
      if (process.stdin.isTTY) {
        password = await promptSecret("new root password: ");
        if ((await promptSecret("again: ")) !== password) throw new PicoError("the two passwords differ");
      } else {
        password = readFileSync(0, "utf8").split("\n")[0] ?? "";
      }
      if (password === "") throw new PicoError("no password given");
      const r = await run("openssl", ["passwd", "-6", "-stdin"], { input: `${password}\n` });
      if (r.exitCode !== 0)
        throw new PicoError(`openssl passwd -6 failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
      process.stdout.write(`${r.stdout.trim()}\n`);
      process.stderr.write('put it in cluster.yaml as: rootPassword: { hash: "<the line above>" }\n');
      finish(0);
    });
}
