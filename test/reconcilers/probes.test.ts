// Probe scripts that decide what to read on the node, run here by sh against real files.
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import t from "tap";
import { cachedProbe } from "../../src/transport/probe-cache.js";
import { buildServedFilesProbe, tftpServer } from "../../reconcilers/tftp-server.js";
import { buildUpgradableProbe, updates } from "../../reconcilers/updates.js";
import { sshKeys } from "../../reconcilers/ssh-keys.js";
import { sshd } from "../../reconcilers/sshd.js";
import { swap } from "../../reconcilers/swap.js";
import { buildFileTablePrelude, buildUnitStatePrelude } from "../../src/transport/probe.js";
import { sha256File } from "../../src/util/digests.js";
import { run } from "../../src/util/run.js";
import { tempDir } from "../helpers/temp.js";

t.test(
  "served files: the size and mtime of the controller's copy stand for its digest; others are hashed",
  async (t) => {
    const root = tempDir(t, "served");
    mkdirSync(join(root, "c2"));
    const put = (rel: string, content: string, mtime: number) => {
      writeFileSync(join(root, rel), content);
      utimesSync(join(root, rel), mtime, mtime);
    };
    put("c2/same", "served as copied", 1700000000);
    put("c2/edited", "edited by hand!!", 1700000000); // as long as the copy, but touched later:
    utimesSync(join(root, "c2/edited"), 1700000999, 1700000999);
    put("c2/resized", "short", 1700000000);
    put("extra file", "not on the controller", 1700000000);
    const desired = {
      files: Object.fromEntries(
        ["c2/same", "c2/edited", "c2/resized"].map((rel) => [
          rel,
          { sha256: `${rel === "c2/same" ? "a" : "b"}`.repeat(64), from: "/x", size: 16, mtime: 1700000000 },
        ]),
      ),
    };
    const r = await run("sh", ["-c", buildServedFilesProbe(desired, root)]);
    t.equal(r.exitCode, 0, r.stderr);
    t.strictSame(tftpServer.parse(`active=active\nenabled=enabled\n${r.stdout}`).files, {
      // Taken on trust from size and mtime, as the copy step left it: not read.
      "c2/same": "a".repeat(64),
      // Read and hashed: the mtime or the size differs from the controller's copy.
      "c2/edited": sha256File(join(root, "c2/edited")),
      "c2/resized": sha256File(join(root, "c2/resized")),
      "extra file": sha256File(join(root, "extra file")),
    });
    const missing = await run("sh", ["-c", buildServedFilesProbe(desired, join(root, "nowhere"))]);
    t.strictSame([missing.exitCode, missing.stdout], [0, ""], "no folder: no files");
  },
);

t.test("upgradable packages: apt is asked again only when a file it reads changed", async (t) => {
  const dir = tempDir(t, "apt");
  mkdirSync(join(dir, "bin"));
  mkdirSync(join(dir, "preferences.d"));
  writeFileSync(join(dir, "status"), "Package: foo\nStatus: install ok installed\n");
  // apt-get as the simulation prints an upgrade; each call leaves a line in `calls`.
  writeFileSync(
    join(dir, "bin", "apt-get"),
    `#!/bin/sh\necho x >> ${dir}/calls\necho 'Inst foo [1.0] (1.1 Debian-Security:12/stable-security [amd64])'\n`,
  );
  chmodSync(join(dir, "bin", "apt-get"), 0o755);
  // The cache file is not declared here: file_read falls back to cat.
  const script = `${buildFileTablePrelude([])}
${buildUpgradableProbe(join(dir, "cache", "updates"), [join(dir, "status"), join(dir, "preferences.d", "*")])}`;
  const probe = async () => {
    const r = await run("sh", ["-c", script], {
      env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH}` },
    });
    t.equal(r.exitCode, 0, r.stderr);
    return updates.parse(r.stdout).upgradable;
  };
  const calls = () => readFileSync(join(dir, "calls"), "utf8").split("\n").length - 1;
  const foo = [{ name: "foo", security: true }];
  t.strictSame(await probe(), foo, "read from apt");
  t.strictSame([await probe(), calls()], [foo, 1], "then from the cache");
  writeFileSync(join(dir, "status"), "Package: foo\nStatus: hold ok installed\n");
  t.strictSame([await probe(), calls()], [foo, 2], "dpkg's status changed: apt again");
  t.strictSame([await probe(), calls()], [foo, 2], "and the cache again after it");
  writeFileSync(join(dir, "preferences.d", "pin"), "Package: foo\nPin: version 1.0\nPin-Priority: 1001\n");
  t.strictSame([await probe(), calls()], [foo, 3], "a pinning file added: apt again");
  writeFileSync(join(dir, "cache", "updates"), "garbage");
  t.strictSame([await probe(), calls()], [foo, 4], "a cache it cannot read is made again");
});

t.test("a cached probe fills again when a file it reads changes, and only then", async (t) => {
  const dir = tempDir(t, "cached");
  mkdirSync(join(dir, "conf.d"));
  writeFileSync(join(dir, "main"), "alpha\n");
  const cache = join(dir, "cache", "concern");
  // The fill prints the main file and leaves a line in `calls` each time it runs.
  const fill = (tag: string) => `echo x >> ${dir}/calls\necho ${tag}; cat ${dir}/main`;
  // The cache file is declared: read from the file table, as on a node.
  const prelude = buildFileTablePrelude([cache]);
  const probe = async (tag = "one") => {
    const r = await run("sh", [
      "-c",
      `${prelude}\n${cachedProbe(cache, [join(dir, "main"), join(dir, "conf.d", "*")], fill(tag))}`,
    ]);
    t.equal(r.exitCode, 0, r.stderr);
    return r.stdout;
  };
  const calls = () => readFileSync(join(dir, "calls"), "utf8").split("\n").length - 1;
  t.strictSame([await probe(), calls()], ["one\nalpha\n", 1], "filled");
  t.strictSame([await probe(), calls()], ["one\nalpha\n", 1], "then read from the cache");
  const { mtime } = statSync(join(dir, "main"));
  writeFileSync(join(dir, "main"), "omega\n");
  utimesSync(join(dir, "main"), mtime, mtime);
  t.strictSame(
    [await probe(), calls()],
    ["one\nomega\n", 2],
    "same size, mtime set back: the ctime still tells",
  );
  writeFileSync(join(dir, "other"), "delta\n");
  renameSync(join(dir, "other"), join(dir, "main"));
  t.strictSame([await probe(), calls()], ["one\ndelta\n", 3], "another file renamed over it");
  writeFileSync(join(dir, "conf.d", "10-new"), "");
  t.strictSame([await probe(), calls()], ["one\ndelta\n", 4], "a file appears where the glob looks");
  t.strictSame([await probe("two"), calls()], ["two\ndelta\n", 5], "another fill does not take this one's");
  t.strictSame([await probe("two"), calls()], ["two\ndelta\n", 5], "and is kept in turn");
  // A hit starts `stat` and nothing else: with only stat (and the file table's awk) on the PATH,
  // the answer is still the cache's.
  mkdirSync(join(dir, "bin"));
  for (const tool of ["stat", "awk"])
    symlinkSync(
      execFileSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim(),
      join(dir, "bin", tool),
    );
  const hit = await run(
    "/bin/sh",
    ["-c", `${prelude}\n${cachedProbe(cache, [join(dir, "main"), join(dir, "conf.d", "*")], fill("two"))}`],
    { env: { ...process.env, PATH: join(dir, "bin") } },
  );
  t.strictSame(
    [hit.exitCode, hit.stdout, hit.stderr, calls()],
    [0, "two\ndelta\n", "", 5],
    "a hit: one stat",
  );

  const failing = cachedProbe(cache, [join(dir, "main")], `echo x >> ${dir}/calls; echo broken >&2; exit 3`);
  for (const n of [6, 7]) {
    const r = await run("sh", ["-c", `${prelude}\n${failing}`]);
    t.strictSame(
      [r.exitCode, r.stderr, calls()],
      [3, "broken\n", n],
      "a failing fill: its status, never kept",
    );
  }
  t.strictSame([await probe("two"), calls()], ["two\ndelta\n", 7], "a failure leaves the cache as it was");
  const empty = cachedProbe(cache, [join(dir, "main")], `echo x >> ${dir}/calls`);
  for (const n of [8, 8]) {
    const r = await run("sh", ["-c", `${prelude}\n${empty}`]);
    t.strictSame([r.exitCode, r.stdout, calls()], [0, "\n", n], "a fill that prints nothing is kept too");
  }

  const unwritable = join(dir, "main", "cache");
  const r = await run("sh", [
    "-c",
    `${buildFileTablePrelude([unwritable])}\n${cachedProbe(unwritable, [join(dir, "main")], fill("three"))}`,
  ]);
  t.strictSame(
    [r.exitCode, r.stdout, r.stderr],
    [0, "three\ndelta\n", ""],
    "a cache it cannot write: the fill's answer",
  );
});

t.test("swap: systemd is asked for active swap units only while /proc/swaps lists a device", async (t) => {
  const dir = tempDir(t, "swap");
  const calls = join(dir, "calls");
  mkdirSync(join(dir, "bin"));
  writeFileSync(
    join(dir, "bin", "systemctl"),
    `#!/bin/sh\necho "$*" >> ${JSON.stringify(calls)}\ncase $1 in list-units) echo 'dev-sda2.swap loaded active active /dev/sda2' ;; esac\n`,
    { mode: 0o755 },
  );
  const probe = async (swaps: string) => {
    writeFileSync(join(dir, "swaps"), swaps);
    writeFileSync(calls, "");
    // The probe as the node runs it, with its unit prelude, reading this file for /proc/swaps.
    const script =
      `${buildFileTablePrelude([])}\n${buildUnitStatePrelude(swap.units ?? [], dir)}\n${swap.probe({ enabled: false })}`.replace(
        "/proc/swaps",
        join(dir, "swaps"),
      );
    const r = await run("sh", ["-c", script], { env: { ...process.env, PATH: `${dir}/bin:/usr/bin:/bin` } });
    t.equal(r.exitCode, 0, r.stderr);
    const { active, units, zram } = swap.parse(r.stdout);
    return { observed: { active, units, zram }, calls: readFileSync(calls, "utf8") };
  };
  const header = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";
  const none = await probe(header);
  t.strictSame(none.observed, { active: [], units: [], zram: {} });
  t.equal(none.calls, "", "no swap in use: systemd is not asked");
  const on = await probe(`${header}/dev/sda2                               partition\t1048572\t\t0\t\t-2\n`);
  t.strictSame(on.observed, { active: ["/dev/sda2"], units: ["dev-sda2.swap"], zram: {} });
  t.match(on.calls, /^list-units --state=active --plain --no-legend -- \*\.swap$/m);
});

t.test(
  "ssh-keys reads the modes, owners and every key line with one stat and no other process",
  async (t) => {
    const dir = tempDir(t, "keys");
    const home = join(dir, "home");
    mkdirSync(join(home, ".ssh"), { recursive: true, mode: 0o700 });
    chmodSync(join(home, ".ssh"), 0o710);
    const keys = join(home, ".ssh", "authorized_keys");
    // Spacing kept, a backslash, a comment, a blank line, and a last line with no newline.
    writeFileSync(keys, "  ssh-ed25519 AAAA one\\n\n# a comment\n\nssh-rsa BBBB   two");
    chmodSync(keys, 0o640);
    const bin = join(dir, "bin");
    mkdirSync(bin);
    const calls = join(dir, "calls");
    writeFileSync(
      join(bin, "getent"),
      `#!/bin/sh\necho getent >> ${calls}\necho "sysman:x:1000:1000::${home}:/bin/sh"\n`,
      {
        mode: 0o755,
      },
    );
    writeFileSync(join(bin, "stat"), `#!/bin/sh\necho stat >> ${calls}\nexec /usr/bin/stat "$@"\n`, {
      mode: 0o755,
    });
    const probe = (d: { user: string; keys: string[] }) =>
      run("/bin/sh", ["-c", `${buildFileTablePrelude([])}\n${sshKeys.probe(d)}`], {
        env: { ...process.env, PATH: `${bin}:/nowhere` },
      });
    const owner = (await run("stat", ["-c", "%U", keys])).stdout.trim();
    const r = await probe({ user: "sysman", keys: [] });
    t.equal(r.exitCode, 0, r.stderr);
    t.strictSame(sshKeys.parse(r.stdout), {
      home,
      dir: { mode: "0710", owner },
      file: { mode: "0640", owner, keys: ["ssh-ed25519 AAAA one\\n", "ssh-rsa BBBB two"] },
    });
    t.match(
      r.stdout,
      /^\| {3}ssh-ed25519 AAAA one\\n$/m,
      "the line as it stands, spacing and backslash kept",
    );
    t.strictSame(readFileSync(calls, "utf8").split("\n"), ["getent", "stat", ""], "no sed, no cat: one stat");

    writeFileSync(keys, "");
    t.strictSame(
      sshKeys.parse((await probe({ user: "sysman", keys: [] })).stdout).file?.keys,
      [],
      "an empty file",
    );
    rmSync(keys);
    t.strictSame(sshKeys.parse((await probe({ user: "sysman", keys: [] })).stdout), {
      home,
      dir: { mode: "0710", owner },
    });
  },
);

t.test("sshd: the lines sshd reads before its drop-in are reported, and only those files", async (t) => {
  const dir = tempDir(t, "sshd");
  const etc = join(dir, "etc", "ssh");
  mkdirSync(join(etc, "sshd_config.d"), { recursive: true });
  mkdirSync(join(dir, "bin"));
  // sshd -T as sshd would resolve these files: not what this test is about.
  writeFileSync(join(dir, "bin", "sshd"), "#!/bin/sh\necho 'permitrootlogin yes'\n", { mode: 0o755 });
  const desired = { settings: { permitrootlogin: "no", passwordauthentication: "no" } };
  const probe = async () => {
    const script = `${buildFileTablePrelude([])}\n${sshd.probe(desired)}`
      .replaceAll("/etc/ssh", etc)
      .replaceAll("/var/cache/picotrader", join(dir, "cache"));
    const r = await run("sh", ["-c", script], { env: { ...process.env, PATH: `${dir}/bin:/usr/bin:/bin` } });
    t.equal(r.exitCode, 0, r.stderr);
    return sshd.parse(r.stdout.replaceAll(etc, "/etc/ssh"));
  };
  const conf = (name: string, text: string) => writeFileSync(join(etc, name), text);
  conf(
    "sshd_config",
    "# Debian's\nInclude /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin yes\n".replace("/etc/ssh", etc),
  );
  conf("sshd_config.d/00-picotrader.conf", "PermitRootLogin no\n");
  conf("sshd_config.d/00-drift.conf", "permitrootlogin=yes"); // no newline at its end
  conf("sshd_config.d/20-other.conf", "X11Forwarding no\n");
  t.strictSame(
    await probe(),
    {
      effective: { permitrootlogin: "yes" },
      others: [{ path: "/etc/ssh/sshd_config.d/00-drift.conf", lines: ["permitrootlogin=yes"] }],
    },
    "a drop-in that sets a managed key; sshd_config sets it after its Include only",
  );
  conf("sshd_config", `  PermitRootLogin yes\ninclude ${etc}/sshd_config.d/*.conf\n`);
  rmSync(join(etc, "sshd_config.d", "00-drift.conf"));
  const text = `  PermitRootLogin yes\ninclude ${etc}/sshd_config.d/*.conf\n`;
  t.strictSame(
    await probe(),
    { effective: { permitrootlogin: "yes" }, mainSettingFirst: text.replace(etc, "/etc/ssh") },
    "sshd_config sets it before its Include: the whole file",
  );
  conf("sshd_config", "PermitRootLogin yes\n");
  t.strictSame(
    await probe(),
    { effective: { permitrootlogin: "yes" }, mainWithoutInclude: "PermitRootLogin yes\n" },
    "no Include: the whole file, to add one",
  );
});
