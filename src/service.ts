// The controller as a systemd service: its user, its unit (packaging/picotrader.service, hardened)
// and the checks that it will be able to run: its repository is its own, its key and pins are there.
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { PicoError } from "./errors.js";
import { loadManifest } from "./manifest/validate.js";
import { packageRoot } from "./paths.js";
import { run } from "./util/run.js";

/** The home of the service user that install-service makes. */
export const SERVICE_HOME = "/var/lib/picotrader-controller";

/**
 * The working tree that holds `folder` (the nearest folder with a .git), or undefined. Read from the
 * file system: git itself refuses, as root, a repository that belongs to the service's user.
 */
function findRepositoryRoot(folder: string): string | undefined {
  for (let dir = folder; ; dir = dirname(dir)) {
    if (existsSync(join(dir, ".git"))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

/** A user as /etc/passwd has it. */
interface Account {
  uid: number;
  gid: number;
  home: string;
  group: string;
}

/** The user's account; undefined when there is none. */
async function readAccount(user: string): Promise<Account | undefined> {
  const r = await run("getent", ["passwd", user]);
  if (r.exitCode !== 0) return undefined;
  const [, , uid, gid, , home] = r.stdout.trim().split(":");
  const g = await run("getent", ["group", String(gid)]);
  return {
    uid: Number(uid),
    gid: Number(gid),
    home: home ?? "/",
    group: g.stdout.split(":")[0] || String(gid),
  };
}

/** The unit's text for these paths. Pure. */
export function buildUnit(
  template: string,
  v: {
    user: string;
    group: string;
    home: string;
    repo: string;
    manifest: string;
    node: string;
    cli: string;
    interval: string;
  },
): string {
  const underHome = [v.repo, v.home].some((p) => /^\/(home|root)(\/|$)/.test(p));
  return template
    .replaceAll("@USER@", v.user)
    .replaceAll("@GROUP@", v.group)
    .replaceAll("@HOME@", v.home)
    .replaceAll("@WORKDIR@", dirname(v.manifest))
    .replaceAll("@REPO@", v.repo)
    .replaceAll("@PROTECT_HOME@", underHome ? "read-only" : "yes")
    .replaceAll("@NODE@", v.node)
    .replaceAll("@CLI@", v.cli)
    .replaceAll("@MANIFEST@", v.manifest)
    .replaceAll("@INTERVAL@", v.interval);
}

/**
 * Makes the user when missing, checks the repository is its own, and writes the unit atomically.
 * Returns what to do next, for the operator. Throws PicoError when the service could not run.
 */
export async function installService(
  file: string,
  user: string,
  unitDir: string,
  interval = "5m",
): Promise<string> {
  const manifest = resolve(file);
  loadManifest(manifest);
  let account = await readAccount(user);
  if (account === undefined) {
    const made = await run("useradd", [
      "--system",
      "--home-dir",
      SERVICE_HOME,
      "--create-home",
      "--shell",
      "/usr/sbin/nologin",
      "--user-group",
      user,
    ]);
    if (made.exitCode !== 0)
      throw new PicoError(`useradd ${user} failed (exit ${made.exitCode}): ${made.stderr.trim()}`);
    account = await readAccount(user);
    if (account === undefined) throw new PicoError(`useradd ${user} made no account`);
  }
  const repo = findRepositoryRoot(dirname(manifest)) ?? dirname(manifest);
  // Git refuses a repository of another owner, and the service fetches into it.
  if (user !== "root" && statSync(repo).uid !== account.uid)
    throw new PicoError(
      `${repo} does not belong to ${user}, who runs the service: give it its own clone (sudo -u ${user} git clone URL ${join(account.home, "cluster")}) or chown -R ${user}: ${repo}`,
    );
  const unit = buildUnit(readFileSync(join(packageRoot(), "packaging", "picotrader.service"), "utf8"), {
    user,
    group: account.group,
    home: account.home,
    repo,
    manifest,
    node: process.execPath,
    cli: join(packageRoot(), "dist", "bin", "picotrader.js"),
    interval,
  });
  const path = join(unitDir, "picotrader.service");
  writeFileSync(`${path}.tmp`, unit, { mode: 0o644 });
  renameSync(`${path}.tmp`, path);
  const ssh = join(account.home, ".ssh");
  const missing = [join(ssh, "id_ed25519"), join(ssh, "known_hosts")].filter((f) => !existsSync(f));
  return [
    `wrote ${path} (runs as ${user}, home ${account.home}, repository ${repo})`,
    ...missing.map(
      (f) =>
        `missing: ${f}${f.endsWith("known_hosts") ? ` (pin the nodes: sudo -u ${user} picotrader trust -f ${manifest})` : ` (the key the nodes' admin user accepts, owned by ${user}, mode 0600)`}`,
    ),
    "start it with: systemctl daemon-reload && systemctl enable --now picotrader",
    "",
  ].join("\n");
}
