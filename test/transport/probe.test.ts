import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t, { type Test } from "tap";
import {
  buildFileTablePrelude,
  buildProbeScript,
  buildUnitStatePrelude,
  parseProbeOutput,
  UNIT_STATE_CACHE,
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

/** A stand-in systemctl that logs its calls in `calls`, then runs `body` (sh, with its arguments). */
function standInSystemctl(t: Test, body: string): { bin: string; calls: string } {
  const bin = tempDir(t, "systemctl");
  const calls = join(bin, "calls");
  writeFileSync(join(bin, "systemctl"), `#!/bin/sh\necho "$*" >> ${shellQuote(calls)}\n${body}`, {
    mode: 0o755,
  });
  return { bin, calls };
}

t.test(
  "unit_state answers from one is-active and a show kept while the unit folders stay as they were",
  async (t) => {
    // It answers what a Debian node's systemd answers, unit by unit.
    const { bin, calls } = standInSystemctl(
      t,
      `command=$1; shift
case $command in
  show) shift 3
    for u in "$@"; do
      case $u in
        docker) printf 'Names=docker.service\\nUnitFileState=enabled\\n\\n' ;;
        sshd) printf 'Names=ssh.service sshd.service\\nUnitFileState=enabled\\n\\n' ;;
        nosysv) printf 'Names=nosysv.service\\nUnitFileState=generated\\n\\n' ;;
        *) printf 'Names=%s\\nUnitFileState=\\n\\n' "$u" ;;
      esac
    done ;;
  is-active) [ "$1" = -- ] && shift
    for u in "$@"; do
      case $u in docker) echo active ;; sshd) echo reloading ;; undeclared.service) echo failed ;; *) echo inactive ;; esac
    done ;;
  list-units) case $5 in '*.swap') echo 'dev-sda2.swap loaded active active /dev/sda2' ;; *) echo 'other.mount loaded active mounted /other' ;; esac ;;
  is-enabled) echo masked ;;
esac
`,
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
    place("/etc/systemd/system/multi-user.target.wants", "dir");
    const declared = [
      "docker",
      "sshd",
      "zramswap.service",
      "nosysv",
      "*.swap",
      "tmpl@a.service",
      "dropin",
      "gone",
    ];
    const script = `${buildFileTablePrelude([join(root, UNIT_STATE_CACHE)])}
${buildUnitStatePrelude([...declared, "absent@x.service"], root)}
for u in docker sshd zramswap.service nosysv absent@x.service tmpl@a.service undeclared; do unit_state $u; echo "$u $unit_active $unit_enabled"; done
units_active '*.swap'; units_active '*.mount'`;
    const probe = async () => {
      writeFileSync(calls, "");
      const r = await run("sh", ["-c", script], { env: { ...process.env, PATH: `${bin}:/usr/bin:/bin` } });
      t.equal(r.exitCode, 0, r.stderr);
      t.strictSame(r.stdout.split("\n"), [
        "docker active enabled",
        "sshd reloading enabled", // found by its alias
        "zramswap.service inactive ", // no file anywhere: not asked; is-enabled prints nothing
        "nosysv inactive disabled", // SysV, with no start link in rc5.d or rcS.d
        "absent@x.service inactive ", // neither the instance nor its template exists
        "tmpl@a.service inactive ", // an instance: its template exists
        "undeclared failed masked", // asked of systemctl itself
        "dev-sda2.swap", // a pattern: asked of systemctl
        "other.mount",
        "",
      ]);
      return readFileSync(calls, "utf8").split("\n");
    };
    const live = "is-active -- docker sshd nosysv tmpl@a.service dropin gone";
    const show = "show -p Names,UnitFileState -- docker sshd nosysv tmpl@a.service dropin gone";
    const asked = [
      "is-active undeclared.service",
      "is-enabled undeclared.service",
      "list-units --state=active --plain --no-legend -- *.swap",
      "list-units --state=active --plain --no-legend -- *.mount",
      "",
    ];
    t.strictSame(
      await probe(),
      [live, show, ...asked],
      "one is-active and one show for the declared units that exist",
    );
    t.match(
      readFileSync(join(root, UNIT_STATE_CACHE), "utf8"),
      /\nNames=ssh.service sshd.service\nUnitFileState=enabled\n/,
    );
    t.strictSame(await probe(), [live, ...asked], "the show is kept: the unit folders are as they were");
    place("/run/systemd/transient/session-7.scope"); // a login's scope
    t.strictSame(await probe(), [live, ...asked], "a login's scope leaves the show kept");
    place("/etc/systemd/system/multi-user.target.wants/docker.service", "dangling"); // systemctl enable
    t.strictSame(await probe(), [live, show, ...asked], "a link made in a .wants folder: shown again");
    t.strictSame(await probe(), [live, ...asked]);
    writeFileSync(join(root, "/lib/systemd/system/docker.service"), "[Install]\n"); // an edit in place
    t.strictSame(
      await probe(),
      [live, show, ...asked],
      "a declared unit's file edited in place: shown again",
    );
    place("/etc/systemd/system/tmpl@.service", "dangling"); // a mask of the template
    t.strictSame(
      await probe(),
      [live, show, ...asked],
      "a link made for an instance's template: shown again",
    );
    // A unit running with its file deleted stops: it leaves the names asked, and no folder changes.
    rmSync(join(root, "/run/systemd/units/invocation:gone.service"));
    const fewer = (call: string) => call.replace(" gone", "");
    t.strictSame(await probe(), [fewer(live), fewer(show), ...asked], "fewer names asked: shown again");
    t.strictSame(await probe(), [fewer(live), ...asked]);

    writeFileSync(calls, "");
    const none = await run(
      "sh",
      [
        "-c",
        `${buildFileTablePrelude([])}\n${buildUnitStatePrelude(["zramswap.service"], root)}\nunit_state zramswap`,
      ],
      { env: { ...process.env, PATH: `${bin}:/usr/bin:/bin` } },
    );
    t.equal(none.exitCode, 0, none.stderr);
    t.equal(readFileSync(calls, "utf8"), "", "no service exists: systemctl is not started");
  },
);

t.test("a unit the show or is-active leaves out is asked of systemctl itself", async (t) => {
  // is-active answers one unit fewer than it was asked (as when systemd refuses one of them).
  const { bin, calls } = standInSystemctl(
    t,
    `case $1 in
  show) printf 'Names=a.service\\nUnitFileState=enabled\\n\\nNames=b.service\\nUnitFileState=disabled\\n' ;;
  is-active) [ $# -gt 2 ] && echo active || echo activating ;;
  is-enabled) echo static ;;
esac
`,
  );
  const root = tempDir(t, "root");
  mkdirSync(join(root, "lib/systemd/system"), { recursive: true });
  for (const u of ["a", "b"]) writeFileSync(join(root, `lib/systemd/system/${u}.service`), "");
  const r = await run(
    "sh",
    [
      "-c",
      `${buildFileTablePrelude([join(root, UNIT_STATE_CACHE)])}\n${buildUnitStatePrelude(["a", "b"], root)}
for u in a b; do unit_state $u; echo "$u $unit_active $unit_enabled"; done`,
    ],
    { env: { ...process.env, PATH: `${bin}:/usr/bin:/bin` } },
  );
  t.equal(r.exitCode, 0, r.stderr);
  t.strictSame(r.stdout.split("\n"), ["a active enabled", "b activating static", ""]);
  t.strictSame(readFileSync(calls, "utf8").split("\n"), [
    "is-active -- a b",
    "show -p Names,UnitFileState -- a b",
    "is-active b.service",
    "is-enabled b.service",
    "",
  ]);
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
