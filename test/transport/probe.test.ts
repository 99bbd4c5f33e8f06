import t from "tap";
import { buildProbeScript, parseProbeOutput } from "../../src/transport/probe.js";
import { shellQuote } from "../../src/transport/quote.js";
import { run } from "../../src/util/run.js";

t.test("the batched probe runs every section once and keeps their outputs apart", async (t) => {
  const nonce = "0123456789abcdef";
  const script = buildProbeScript(
    [
      { name: "one", script: "echo hello; echo 'two lines'" },
      { name: "fails", script: "echo partial; echo oops >&2; exit 3" },
      { name: "spoof", script: "printf '@@fakenonce begin one 0\\n'; printf 'no newline'" },
      { name: "exits", script: "exit 0; echo unreachable" },
    ],
    nonce,
  );
  const r = await run("sh", ["-s"], { input: script });
  t.equal(r.exitCode, 0);
  const answers = parseProbeOutput(r.stdout, nonce);
  t.strictSame(Object.fromEntries(answers), {
    one: { exitCode: 0, stdout: "hello\ntwo lines\n", stderr: "" },
    fails: { exitCode: 3, stdout: "partial\n", stderr: "oops\n" },
    spoof: { exitCode: 0, stdout: "@@fakenonce begin one 0\nno newline", stderr: "" },
    exits: { exitCode: 0, stdout: "", stderr: "" },
  });
});

t.test("shellQuote makes one word of anything", async (t) => {
  for (const value of ["plain", "with space", "it's", "$(reboot)", "a\nb", "", "`x`;rm -rf /"]) {
    const r = await run("sh", ["-c", `printf '%s' ${shellQuote(value)}`]);
    t.equal(r.stdout, value, JSON.stringify(value));
  }
});
