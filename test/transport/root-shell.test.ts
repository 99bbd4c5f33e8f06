// The kept root shell, run here over a local sh: scripts stay apart, cannot read the next one nor
// change the shell, and a shell that ends answers the script it was running.
import { spawn } from "node:child_process";
import t from "tap";
import { RootShell, type ShellChannel } from "../../src/transport/root-shell.js";

function local(t: { teardown(f: () => void): void }, command = "sh -s"): { shell: RootShell } {
  const child = spawn("sh", ["-c", command === "sh -s" ? "exec sh -s" : command], { stdio: "pipe" });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
  });
  const channel: ShellChannel = {
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: child.stderr,
    onClose: (f) => child.on("close", (code) => f(code)),
  };
  return { shell: new RootShell(channel, command) };
}

t.test("scripts run one after the other in one shell, their outputs kept apart", async (t) => {
  const { shell } = local(t);
  const [a, b, c] = await Promise.all([
    shell.run("echo one; echo 'two words'"),
    shell.run("printf 'no newline'; echo oops >&2; exit 3"),
    shell.run("echo $$ > /dev/null; cat <<'EOF'\n}\n@@ not the marker\nEOF"),
  ]);
  t.equal(a?.stdout, "one\ntwo words\n");
  t.equal(a?.exitCode, 0);
  t.equal(b?.stdout, "no newline", "the output as printed, without the marker's newline");
  t.equal(b?.exitCode, 3);
  t.match(b?.stderr, /oops/);
  t.equal(c?.stdout, "}\n@@ not the marker\n", "a here-document holds what it holds");
  t.equal(shell.alive, true);
  shell.close();
});

t.test("a script reads nothing of the next one, and leaves the shell as it found it", async (t) => {
  const { shell } = local(t);
  const reader = await shell.run('cat; read -r line; echo "read: [$line]"; x=set; cd /; f() { echo f; }');
  t.equal(reader.stdout, "read: []\n", "its standard input is /dev/null");
  const after = await shell.run('echo "x=[${x-}] pwd=$(pwd)"; command -v f || echo no-f');
  t.match(after.stdout, /^x=\[\] pwd=/);
  t.notMatch(after.stdout, /pwd=\/\n/, "the directory it changed to was its own");
  t.match(after.stdout, /no-f\n$/);
  shell.close();
});

t.test(
  "a shell that ends answers the script it ran with its own exit; then every script fails",
  async (t) => {
    const { shell } = local(t, "echo 'sudo: a password is required' >&2; exit 1");
    const r = await shell.run("echo never");
    t.equal(r.exitCode, 1);
    t.match(r.stderr, /a password is required/);
    t.equal(shell.alive, false);
    const again = await shell.run("echo never");
    t.equal(again.exitCode, 1);
    t.match(again.stderr, /ended/);
  },
);

t.test("a script the shell cannot parse ends the shell, not the caller", async (t) => {
  const { shell } = local(t);
  const r = await shell.run("if then fi (");
  t.not(r.exitCode, 0);
  t.equal(shell.alive, false);
});

t.test("closed: the shell reads end of input and exits", async (t) => {
  const { shell } = local(t);
  t.equal((await shell.run("true")).exitCode, 0);
  shell.close();
  for (let i = 0; i < 100 && shell.alive; i++) await new Promise((r) => setTimeout(r, 50));
  t.equal(shell.alive, false);
});
