// The one loop every "until it answers" step runs, run here by sh: how often it tries, what it
// keeps of the command's output, and what it says when it gives up.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { retryEachSecond } from "../../reconcilers/lib/retry.js";
import { shellQuote } from "../../src/transport/quote.js";
import { run } from "../../src/util/run.js";
import { tempDir } from "../helpers/temp.js";

/** A command that counts its calls and fails, saying `answer`, until call `succeedAt`. */
function attempt(dir: string, answer: string, succeedAt: number): string {
  const calls = shellQuote(join(dir, "calls"));
  writeFileSync(join(dir, "calls"), "0");
  return `{ n=$(($(cat ${calls}) + 1)); echo $n > ${calls}; [ $n -ge ${succeedAt} ] && echo "done at $n" || { echo ${shellQuote(answer)} "$n"; false; }; }`;
}
const calls = (dir: string) => Number(readFileSync(join(dir, "calls"), "utf8"));

t.test("tried each second until it succeeds; its output printed once it does", async (t) => {
  const dir = tempDir(t, "retry");
  const r = await run("sh", [
    "-c",
    retryEachSecond({ command: attempt(dir, "busy", 3), tries: 5, failure: "never", output: true }),
  ]);
  t.strictSame([r.exitCode, r.stdout, r.stderr, calls(dir)], [0, "done at 3\n", "", 3]);
});

t.test("given up after its tries: the last output, the failure as written, then the diagnosis", async (t) => {
  const dir = tempDir(t, "retry");
  const failure = `x: it's "down" $HOME (2 s tried)`;
  const r = await run("sh", [
    "-c",
    retryEachSecond({
      command: attempt(dir, "busy", 9),
      tries: 2,
      failure,
      output: true,
      diagnose: "echo why",
    }),
  ]);
  t.strictSame([r.exitCode, r.stdout, r.stderr, calls(dir)], [1, "", `busy 2\n${failure}\nwhy\n`, 2]);
  const quiet = await run("sh", [
    "-c",
    retryEachSecond({ command: `${attempt(dir, "busy", 9)} >/dev/null`, tries: 1, failure }),
  ]);
  t.strictSame(
    [quiet.exitCode, quiet.stderr, calls(dir)],
    [1, `${failure}\n`, 1],
    "without output: the failure alone",
  );
});

t.test("onlyWhile: tried again only while the output says so; any other failure at once", async (t) => {
  const dir = tempDir(t, "retry");
  const retried = await run("sh", [
    "-c",
    retryEachSecond({
      command: attempt(dir, "server: unhealthy cluster", 2),
      tries: 5,
      failure: "f",
      onlyWhile: ["unhealthy cluster", "not started"],
    }),
  ]);
  t.strictSame(
    [retried.exitCode, retried.stdout, calls(dir)],
    [0, "", 2],
    "retried, and its output not printed",
  );
  const fatal = await run("sh", [
    "-c",
    retryEachSecond({
      command: attempt(dir, "member not found", 2),
      tries: 5,
      failure: "f",
      onlyWhile: ["unhealthy cluster"],
    }),
  ]);
  t.strictSame([fatal.exitCode, fatal.stderr, calls(dir)], [1, "member not found 1\n", 1]);
});
