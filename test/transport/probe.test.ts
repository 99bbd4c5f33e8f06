import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import {
  buildFileTablePrelude,
  buildProbeScript,
  buildUnitStatePrelude,
  parseProbeOutput,
} from "../../src/transport/probe.js";
import { shellQuote } from "../../src/transport/quote.js";
import { run } from "../../src/util/run.js";
import { tempDir } from "../helpers/temp.js";

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

t.test("unit_state answers from one systemctl show, as is-active and is-enabled would", async (t) => {
  const bin = tempDir(t, "systemctl");
  const calls = join(bin, "calls");
  // A systemctl that logs its calls and shows what a Debian node's systemd shows.
  writeFileSync(
    join(bin, "systemctl"),
    `#!/bin/sh
echo "$*" >> ${shellQuote(calls)}
case $1 in
  show) printf '%s\\n' Names=docker.service LoadState=loaded ActiveState=active UnitFileState=enabled '' \\
    'Names=ssh.service sshd.service' LoadState=loaded ActiveState=reloading UnitFileState=enabled '' \\
    Names=nosysv.service LoadState=loaded ActiveState=inactive UnitFileState=generated '' \\
    Names=dev-sda2.swap ActiveState=active '' Names=swapfile.swap ActiveState=inactive ;;
  list-units) echo 'other.mount loaded active mounted /other' ;;
  is-active) echo failed ;;
  is-enabled) echo masked ;;
esac
`,
    { mode: 0o755 },
  );
  // The node's unit folders: what each declared service has on disk, if anything.
  const root = tempDir(t, "root");
  const place = (path: string, what: "file" | "dir" | "dangling" = "file") => {
    mkdirSync(join(root, path, ".."), { recursive: true });
    if (what === "file") writeFileSync(join(root, path), "");
    else if (what === "dir") mkdirSync(join(root, path));
    else symlinkSync("0123abcd", join(root, path));
  };
  place("/lib/systemd/system/docker.service");
  place("/etc/systemd/system/sshd.service", "dangling"); // an alias link, even a broken one
  place("/run/systemd/generator.late/nosysv.service");
  place("/usr/lib/systemd/system/tmpl@.service"); // an instance's template
  place("/etc/systemd/system/dropin.service.d", "dir"); // only a drop-in
  place("/run/systemd/units/invocation:gone.service", "dangling"); // running, its file deleted
  const declared = ["docker", "sshd", "zramswap.service", "nosysv", "*.swap"];
  const asked = ["tmpl@a.service", "dropin", "gone"];
  const script = `${buildUnitStatePrelude([...declared, ...asked, "absent@x.service"], root)}
for u in docker sshd zramswap.service nosysv absent@x.service undeclared; do unit_state $u; echo "$u $unit_active $unit_enabled"; done
units_active '*.swap'; units_active '*.mount'`;
  const r = await run("sh", ["-c", script], { env: { ...process.env, PATH: `${bin}:/usr/bin:/bin` } });
  t.equal(r.exitCode, 0, r.stderr);
  t.strictSame(r.stdout.split("\n"), [
    "docker active enabled",
    "sshd reloading enabled", // found by its alias
    "zramswap.service inactive ", // no file anywhere: not asked; is-enabled prints nothing
    "nosysv inactive disabled", // SysV, with no start link in rc5.d or rcS.d
    "absent@x.service inactive ", // neither the instance nor its template exists
    "undeclared failed masked", // asked of systemctl itself
    "dev-sda2.swap", // the active one of the declared pattern
    "other.mount", // a pattern not declared: asked of systemctl itself
    "",
  ]);
  t.strictSame(
    readFileSync(calls, "utf8").split("\n"),
    [
      "show -p Names,ActiveState,UnitFileState -- docker sshd nosysv *.swap tmpl@a.service dropin gone",
      "is-active undeclared.service",
      "is-enabled undeclared.service",
      "list-units --state=active --plain --no-legend -- *.mount",
      "",
    ],
    "one show for the declared units that exist; systemctl itself only for what was not declared",
  );

  const none = await run(
    "sh",
    ["-c", `${buildUnitStatePrelude(["zramswap.service"], root)}\nunit_state zramswap`],
    {
      env: { ...process.env, PATH: `${bin}:/usr/bin:/bin` },
    },
  );
  t.equal(none.exitCode, 0, none.stderr);
  t.equal(readFileSync(calls, "utf8").split("\n").length, 5, "no service exists: systemctl is not started");
});

t.test("file_text prints a file's exact bytes, from one awk for every declared file", async (t) => {
  const dir = tempDir(t, "files");
  const calls = join(dir, "calls");
  mkdirSync(join(dir, "bin"));
  // cat and awk that log their calls, then run the real ones.
  for (const tool of ["cat", "awk"])
    writeFileSync(
      join(dir, "bin", tool),
      `#!/bin/sh\necho ${tool} >> ${shellQuote(calls)}\nexec /usr/bin/${tool} "$@"\n`,
      {
        mode: 0o755,
      },
    );
  const files: Record<string, string> = {
    quotes: `it's "quoted" \\n & $x \`y\`\n'\n''\n`,
    "no-newline": "last line without one",
    separator: "a\x01\x1e\x02b\n", // the sequence awk splits records at
    blank: "x\n\n\n",
    empty: "",
    undeclared: "asked of cat\n",
  };
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  mkdirSync(join(dir, "a-directory"));
  const declared = ["quotes", "no-newline", "separator", "blank", "empty", "missing", "a-directory"];
  const names = [...declared, "undeclared"];
  const script = `${buildFileTablePrelude([...declared.map((n) => join(dir, n)), "/bad path/x", "relative"])}
for n in ${names.join(" ")}; do file_text ${shellQuote(dir)}/$n > ${shellQuote(dir)}/out.$n; echo "$n $?"; done
file_read ${shellQuote(join(dir, "quotes"))} && [ "$file_body" = ${shellQuote(files.quotes as string)} ] && echo same`;
  const r = await run("sh", ["-c", script], { env: { ...process.env, PATH: `${dir}/bin:/usr/bin:/bin` } });
  t.equal(r.exitCode, 0, r.stderr);
  t.equal(r.stderr, "");
  t.strictSame(r.stdout.split("\n"), [
    ...names.map((n) => `${n} ${n === "missing" || n === "a-directory" ? 1 : 0}`),
    "same",
    "",
  ]);
  for (const [name, content] of Object.entries(files))
    t.equal(readFileSync(join(dir, `out.${name}`), "utf8"), content, `${name}: the same bytes`);
  t.strictSame(
    readFileSync(calls, "utf8").split("\n"),
    ["awk", "cat", ""],
    "one awk for the declared files; cat only for the file nobody declared",
  );
});

t.test("the file table holds only absolute paths that need no quoting", async (t) => {
  const prelude = buildFileTablePrelude(["/etc/hosts", "/etc/hosts", "/a b", "/x'y", "rel/x", "/etc/x\\y"]);
  t.match(prelude, /k\["\/etc\/hosts"\] = 0 \}/, "the one path it takes, once");
  t.notMatch(prelude, /a b|x'y|rel\/x|x\\y/, "the others are read by cat when asked");
});
