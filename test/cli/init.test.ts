// `picotrader init`: a commented manifest that validates, from another folder, with a modeline that
// points at this installation's schema; the admin key found as OpenSSH users keep it.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { packageRoot } from "../../src/paths.js";
import { run } from "../../src/util/run.js";
import { tempDir } from "../helpers/temp.js";

const cli = join(packageRoot(), "dist", "bin", "picotrader.js");
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFq8tQ7p3yJ3gqWc9Fv0jFzD7bq8hXzv0P1Xy9m1QZ7t op@ws";
const flags = [
  "--subnet",
  "192.168.0.0/24",
  "--virtual-ip",
  "192.168.0.200",
  "--workstation",
  "192.168.0.10",
  "--node",
  "c2-master1=192.168.0.201",
  "--node",
  "c2-master2=192.168.0.202",
  "--node",
  "c2-worker1=192.168.0.203",
];

t.test("from flags, in a folder of its own: a manifest that validates", async (t) => {
  const dir = tempDir(t, "init");
  const home = join(dir, "home");
  mkdirSync(join(home, ".ssh"), { recursive: true });
  writeFileSync(join(home, ".ssh", "id_ed25519.pub"), `${KEY}\n`);
  const env = { ...process.env, HOME: home, SSH_AUTH_SOCK: "" };
  const r = await run("node", [cli, "init", ...flags], { cwd: dir, env });
  t.equal(r.exitCode, 0, r.stderr);
  t.match(r.stdout, /wrote cluster\.yaml \(3 nodes\)\. Next: picotrader trust/);
  const text = readFileSync(join(dir, "cluster.yaml"), "utf8");
  t.match(text, `    - ${KEY}\n`, "the admin key from ~/.ssh/id_ed25519.pub");
  t.match(text, /name: c2-master1\n {4}address: 192\.168\.0\.201\n {4}roles: \[control-plane\]/);
  t.match(text, /name: c2-worker1\n {4}address: 192\.168\.0\.203\n {4}roles: \[worker\]/);
  t.ok(text.split("\n").filter((l) => l.startsWith("#")).length >= 8, "commented");
  const modeline = /^# yaml-language-server: \$schema=(\S+)$/m.exec(text)?.[1] ?? "";
  t.equal(
    modeline,
    join(packageRoot(), "schema", "cluster.schema.json"),
    "the modeline is this installation's schema",
  );
  t.ok(existsSync(modeline), "and the file is there, whatever folder the manifest is in");
  const valid = await run("node", [cli, "validate", "cluster.yaml"], { cwd: dir });
  t.equal(valid.exitCode, 0, valid.stderr);
  t.match(valid.stdout, "cluster.yaml: valid (3 nodes)");

  const again = await run("node", [cli, "init", ...flags], { cwd: dir, env });
  t.equal(again.exitCode, 1, "an existing file is kept");
  t.match(again.stderr, /^error: cluster\.yaml exists: pass --force/);
  const forced = await run(
    "node",
    [cli, "init", ...flags, "--force", "--admin-key", KEY.replace("op@ws", "other@ws")],
    {
      cwd: dir,
      env,
    },
  );
  t.equal(forced.exitCode, 0, forced.stderr);
  t.match(
    readFileSync(join(dir, "cluster.yaml"), "utf8"),
    "other@ws",
    "--force overwrites, --admin-key wins",
  );
});

t.test("what init would write must validate: nothing is written otherwise", async (t) => {
  const dir = tempDir(t, "init");
  const r = await run(
    "node",
    [cli, "init", ...flags.map((f) => (f === "192.168.0.200" ? "10.0.0.200" : f)), "--admin-key", KEY],
    { cwd: dir },
  );
  t.equal(r.exitCode, 1);
  t.match(
    r.stderr,
    /^cluster\.yaml:\d+:\d+: error: cluster\.virtualIp: 10\.0\.0\.200 is not a host address/m,
  );
  t.notOk(existsSync(join(dir, "cluster.yaml")), "no file");
});
