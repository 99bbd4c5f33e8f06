// Owns: that the declared Debian packages are installed: the manifest's `packages.install`, the
// Docker package, haproxy and keepalived on control-plane nodes, tftpd-hpa on the TFTP server,
// etcd's server and client on etcd nodes, PostgreSQL 15 and Patroni on database nodes.
// Runs: `apt-get update` only when a missing package has no candidate, then one `apt-get install`.
// Leaves alone: versions and upgrades (the updates policy), packages it did not ask for, apt sources.
import type { ChangeDraft, Manifest, NodeSpec, Reconciler, Step } from "../src/engine/types.js";
import { shellQuote } from "../src/transport/quote.js";
import { cachedProbe, probeCacheFile } from "../src/transport/probe-cache.js";
import { isControlPlane } from "./lib/node.js";

/** The Docker package when the manifest names none. */
export const DEFAULT_DOCKER_PACKAGE = "docker.io";

export interface PackagesDesired {
  /** Package names, sorted. */
  install: string[];
}

export interface PackagesObserved {
  /** Per desired package: installed (dpkg status "ii"), and whether apt knows a candidate. */
  packages: Record<string, { installed: boolean; candidate: boolean }>;
}

/** Every package a node needs, from the sections of the manifest that apply to it. Pure. */
export function packagesFor(node: NodeSpec, m: Manifest): string[] {
  const names = new Set(m.packages?.install ?? []);
  if (m.docker) names.add(m.docker.package ?? DEFAULT_DOCKER_PACKAGE);
  if (m.haproxy && isControlPlane(node)) names.add("haproxy");
  if (m.keepalived && isControlPlane(node)) names.add("keepalived");
  if (m.tftp && node.roles.includes("tftp")) names.add("tftpd-hpa");
  if (m.etcd && node.roles.includes("etcd")) for (const p of ["etcd-server", "etcd-client"]) names.add(p);
  if (m.postgres && node.roles.includes("database"))
    for (const p of ["postgresql-15", "patroni", "python3-etcd"]) names.add(p);
  if (m.storage) names.add(node.roles.includes("storage") ? "glusterfs-server" : "glusterfs-client");
  return [...names].sort();
}

/**
 * apt-get as every concern runs it: no questions, waiting for a dpkg lock held by another run, and
 * `--no-remove`: no install or upgrade may remove a package (a dependency conflict that would take
 * openssh-server or sudo away fails instead).
 */
export const APT = "DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-remove -o DPkg::Lock::Timeout=120";

/** Touched after each successful `apt-get update`: local (file:) sources leave no list file to date. */
export const STAMP = "/var/lib/picotrader/apt-updated";
/**
 * What apt's answers depend on: the installed packages (and holds), the package lists, our stamp of
 * the last update, the sources, the pinning and apt's configuration.
 */
export const APT_STATE = [
  "/var/lib/dpkg/status",
  "/var/lib/apt/lists",
  STAMP,
  "/etc/apt/sources.list",
  "/etc/apt/sources.list.d/*",
  "/etc/apt/preferences",
  "/etc/apt/preferences.d/*",
  "/etc/apt/apt.conf.d/*",
];

export const packages: Reconciler<PackagesDesired, PackagesObserved> = {
  name: "packages",
  applies: (node, m) => packagesFor(node, m).length > 0,
  desired: (node, m) => ({ install: packagesFor(node, m) }),
  // dpkg's status of every package from one dpkg-query, matched by the shell's own `read`; for a
  // missing one, apt's candidate (none when the index lacks it). apt-cache is slow, so an installed
  // package never asks it. Kept while dpkg's and apt's files stay as they were.
  files: [probeCacheFile("packages")],
  probe: (d) => {
    const names = d.install.map(shellQuote).join(" ");
    return cachedProbe(
      probeCacheFile("packages"),
      APT_STATE,
      `q=$(dpkg-query -W -f '\${Package} \${db:Status-Abbrev}\\n' ${names} 2>/dev/null)
for p in ${names}; do
  st=
  while read -r n s; do [ "$n" = "$p" ] && st=$s; done <<PICOTRADER_DPKG
$q
PICOTRADER_DPKG
  printf 'status %s %s\\n' "$p" "$st"
  [ "$st" = ii ] || printf 'candidate %s %s\\n' "$p" "$(apt-cache policy "$p" 2>/dev/null | sed -n 's/^ *Candidate: *//p')"
done`,
    );
  },
  parse(output) {
    const found: PackagesObserved["packages"] = {};
    for (const line of output.split("\n")) {
      const m = /^(status|candidate) (\S+) ?(.*)$/.exec(line);
      if (!m) continue;
      const [, kind, name = "", value = ""] = m;
      const entry = (found[name] ??= { installed: false, candidate: false });
      if (kind === "status") entry.installed = value === "ii";
      else entry.candidate = value !== "" && value !== "(none)";
    }
    return { packages: found };
  },
  plan(d, o) {
    const missing = d.install.filter((p) => o.packages[p]?.installed !== true);
    if (missing.length === 0) return [];
    const unknown = missing.filter((p) => o.packages[p]?.candidate !== true);
    const steps: Step[] = [
      // The index is refreshed only when apt cannot name a version of a missing package.
      ...(unknown.length > 0 ? [{ kind: "run" as const, command: `${APT} update` }] : []),
      {
        kind: "run",
        command: `${APT} install --no-install-recommends -- ${missing.map(shellQuote).join(" ")}`,
      },
    ];
    const change: ChangeDraft = {
      summary: `install ${missing.join(", ")}${unknown.length > 0 ? " (after apt-get update)" : ""}`,
      action: "create",
      before: { missing },
      after: { installed: missing },
      steps,
    };
    return [change];
  },
};
