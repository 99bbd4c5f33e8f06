import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
  chmodSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LabError } from "../errors.js";
import {
  DEFAULT_POSTGRES_PASSWORD_ENV,
  DEFAULT_REPLICATION_PASSWORD_ENV,
  DEFAULT_VRRP_PASSWORD_ENV,
} from "../manifest/defaults.js";
import { packageRoot } from "../paths.js";
import { prepareTftpRoot } from "../tftp.js";
import { run, runOk } from "../util/run.js";
import { ensureArm64Emulation, removeArm64Emulation } from "./binfmt.js";
import { emulatedBuildInProgress, ensureImage, processAlive, type Image } from "./image.js";
import { ARCHES, RELEASES, type Arch, type Release } from "./platforms.js";
import { limitPaths, raiseInotifyLimit, restoreInotifyLimit } from "./limits.js";

/**
 * The lab: a simulated cluster of real Linux nodes on this machine. Each node is a Debian
 * container (systemd-nspawn --boot over an overlayfs of the factory image) in a network namespace
 * of its own, wired by a veth into a bridge inside the lab's namespace, which has no route out.
 * Everything a lab makes is recorded in its state file first, so `down` can undo it after a crash.
 */

export const LAB_ROOT = process.env.PICOTRADER_LAB_ROOT ?? "/var/lib/picotrader-lab";
/** The factory image's root password, like HardKernel's images. Not a secret: it is the lab's. */
export const FACTORY_PASSWORD = "odroid";
/** The lab's VRRP password, given to the controller as PICOTRADER_VRRP_PASSWORD. Not a secret either. */
export const LAB_VRRP_PASSWORD = "labvrrp";
/** The lab database's passwords (superuser, replication), given to the controller. The lab's, too. */
export const LAB_POSTGRES_PASSWORD = "labpostgres";
export const LAB_REPLICATION_PASSWORD = "labreplication";
const SUBNET_PREFIX = "10.88.0";

export interface LabNode {
  name: string;
  /** Hostname the factory image gives the node (differs from `name` until reconciled). */
  factoryHostname: string;
  address: string;
  sshPort: number;
  netns: string;
  /** Its Debian release and that release's image; undefined: the lab's (bookworm) image. */
  release?: Release;
  imageRoot?: string;
  imageRepo?: string;
  /** An emulated node's amd64 image of the same release, whose iptables it runs natively. */
  nativeRoot?: string;
}

export interface LabState {
  name: string;
  imageDir: string;
  imageRoot: string;
  imageRepo: string;
  netns: string;
  subnet: string;
  controllerAddress: string;
  virtualIp: string;
  keyPath: string;
  knownHostsPath: string;
  createdAt: string;
  /**
   * Each node's CPU time is capped at this percentage of one of this machine's cores (the cgroup
   * CPU controller's quota), to stand in for a slower board; undefined: no cap.
   */
  cpuLimit?: number;
  /** The nodes' architecture; undefined: amd64 (this machine's). arm64 runs under qemu-user. */
  arch?: Arch;
  nodes: LabNode[];
}

/** The cgroup hierarchies a node's processes are put in (supervise.sh lists the same). */
const CGROUP_HIERARCHIES = ["systemd", "unified", "memory", "cpu"];

/** A node as `lab status` reports it. */
export interface LabNodeStatus extends LabNode {
  state: "running" | "off" | "halted";
  ssh: boolean;
  /** Resident memory of the node's processes, from its memory cgroup; undefined when off. */
  memoryBytes?: number;
}

/** Fails at once, with what is needed, where the lab cannot run. */
export function assertLabHost(): void {
  if (process.platform !== "linux")
    throw new LabError("the lab needs Linux (network namespaces, overlayfs, systemd-nspawn)");
  if (process.getuid?.() !== 0) throw new LabError("the lab needs root: run it with sudo");
  for (const tool of ["/usr/bin/systemd-nspawn", "/usr/bin/nsenter", "/usr/sbin/ip", "/usr/bin/ssh-keygen"]) {
    if (!existsSync(tool)) {
      throw new LabError(
        `the lab needs ${tool}: apt-get install systemd-container iproute2 util-linux openssh-client`,
      );
    }
  }
}

export function validateLabName(name: string): void {
  if (!/^[a-z][a-z0-9]{0,11}$/.test(name)) {
    throw new LabError(
      `lab name "${name}": use 1 to 12 lowercase letters and digits, starting with a letter`,
    );
  }
}

export function labDir(name: string): string {
  return join(LAB_ROOT, name);
}

function statePath(name: string): string {
  return join(labDir(name), "state.json");
}

/** Reads a lab's state file; undefined when the lab does not exist. */
export function readLab(name: string): LabState | undefined {
  const path = statePath(name);
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, "utf8")) as LabState;
}

/** Reads a lab's state, or fails naming the lab. */
export function requireLab(name: string): LabState {
  const lab = readLab(name);
  if (!lab) throw new LabError(`no lab named "${name}" (start one with: picotrader lab up --name ${name})`);
  return lab;
}

function writeLab(lab: LabState): void {
  writeFileSync(statePath(lab.name), JSON.stringify(lab, null, 2) + "\n");
}

function nodeDir(lab: LabState, node: string): string {
  return join(labDir(lab.name), "nodes", node);
}

function cgroupPath(lab: LabState, node: string): string {
  return `picotrader/${lab.name}/${node}`;
}

/** A node's cgroup folder in one hierarchy of the host's (cpu, memory, unified...). */
function cgroupDir(lab: LabState, node: string, hierarchy: string): string {
  return `/sys/fs/cgroup/${hierarchy}/${cgroupPath(lab, node)}`;
}

/**
 * CPU time every process of a node has used since it booted, in microseconds (its cgroup's
 * cpu.stat in the unified hierarchy); undefined when the node is off.
 */
export function readNodeCpuUsec(lab: LabState, node: string): number | undefined {
  const file = `${cgroupDir(lab, node, "unified")}/cpu.stat`;
  if (!existsSync(file)) return undefined;
  const m = /^usage_usec (\d+)$/m.exec(readFileSync(file, "utf8"));
  return m ? Number(m[1]) : undefined;
}

function findNode(lab: LabState, name: string): LabNode {
  const node = lab.nodes.find((n) => n.name === name);
  if (!node)
    throw new LabError(
      `lab ${lab.name} has no node "${name}" (nodes: ${lab.nodes.map((n) => n.name).join(", ")})`,
    );
  return node;
}

/** A node's release (labs made before releases existed are bookworm). */
export function releaseOf(node: LabNode): Release {
  return node.release ?? "bookworm";
}

/**
 * Creates and boots a lab of `count` factory-fresh nodes and waits until each answers SSH.
 * Builds the image first if the cache lacks it. Fails if a lab of that name exists.
 */
export async function labUp(
  name: string,
  count: number,
  log: (line: string) => void = () => {},
  options: { cpuLimit?: number; releases?: Release[]; arch?: Arch } = {},
): Promise<LabState> {
  assertLabHost();
  validateLabName(name);
  if (!Number.isInteger(count) || count < 1 || count > 50)
    throw new LabError(`--nodes must be 1 to 50, not ${count}`);
  const { cpuLimit } = options;
  checkCpuLimit(cpuLimit);
  if (readLab(name))
    throw new LabError(`lab "${name}" already exists: picotrader lab down --name ${name} first`);
  const releases = options.releases ?? ["bookworm"];
  const unknown = releases.filter((r) => !RELEASES.includes(r));
  if (releases.length === 0 || unknown.length > 0)
    throw new LabError(
      `--release: ${unknown.join(", ") || "none given"}: the lab has ${RELEASES.join(", ")}`,
    );
  const arch = options.arch ?? "amd64";
  if (!ARCHES.includes(arch)) throw new LabError(`--arch: the lab has ${ARCHES.join(", ")}, not ${arch}`);
  if (arch === "arm64") {
    const emulation = await ensureArm64Emulation(LAB_ROOT);
    if (emulation) log(emulation);
  }
  // Node i runs releases[i mod n]; every release's image is built before any node boots.
  const images = new Map<Release, Image>();
  const natives = new Map<Release, Image>();
  for (const release of new Set(releases)) {
    images.set(release, await ensureImage(log, release, arch));
    if (arch !== "amd64") natives.set(release, await ensureImage(log, release, "amd64"));
  }
  // What a node records of its images.
  const nodeImages = (
    release: Release,
  ): Pick<LabNode, "release" | "imageRoot" | "imageRepo" | "nativeRoot"> => {
    const { rootfs, repo } = images.get(release) as Image;
    const native = natives.get(release);
    return { release, imageRoot: rootfs, imageRepo: repo, ...(native ? { nativeRoot: native.rootfs } : {}) };
  };
  // The lab's own image fields (labs older than releases read them): bookworm's, else the first.
  const image = images.get("bookworm") ?? [...images.values()][0];
  if (!image) throw new LabError("no release to build nodes of");
  // Every lab's nodes count against the same host limit.
  const running = listLabs().reduce((n, l) => n + (readLab(l)?.nodes.length ?? 0), 0);
  const raised = raiseInotifyLimit(limitPaths(LAB_ROOT), running + count);
  if (raised) log(raised);
  const dir = labDir(name);
  mkdirSync(join(dir, "nodes"), { recursive: true });
  const lab: LabState = {
    name,
    imageDir: image.dir,
    imageRoot: image.rootfs,
    imageRepo: image.repo,
    netns: `pt-${name}`,
    subnet: `${SUBNET_PREFIX}.0/24`,
    controllerAddress: `${SUBNET_PREFIX}.1`,
    virtualIp: `${SUBNET_PREFIX}.200`,
    keyPath: join(dir, "id_ed25519"),
    knownHostsPath: join(dir, "known_hosts"),
    createdAt: new Date().toISOString(),
    ...(cpuLimit === undefined ? {} : { cpuLimit }),
    ...(arch === "amd64" ? {} : { arch }),
    nodes: Array.from({ length: count }, (_, i) => ({
      name: `node${i + 1}`,
      factoryHostname: `odroid64-${i + 1}`,
      address: `${SUBNET_PREFIX}.${11 + i}`,
      sshPort: 22,
      netns: `pt-${name}-node${i + 1}`,
      ...nodeImages(releases[i % releases.length] as Release),
    })),
  };
  writeLab(lab);
  try {
    await runOk("ssh-keygen", [
      "-q",
      "-t",
      "ed25519",
      "-N",
      "",
      "-C",
      `picotrader-lab-${name}`,
      "-f",
      lab.keyPath,
    ]);
    await createLabNetwork(lab);
    const knownHosts: string[] = [];
    for (const node of lab.nodes) {
      knownHosts.push(`${node.address} ${await makeHostKey(lab, node)}`);
      await prepareNode(lab, node);
    }
    writeFileSync(lab.knownHostsPath, knownHosts.join("\n") + "\n");
    for (const node of lab.nodes) startNode(lab, node);
    writeLab(lab);
    await waitForSsh(lab, lab.nodes, 120);
    return lab;
  } catch (err) {
    log(`lab up failed; the lab is left for inspection: picotrader lab down --name ${name} removes it`);
    throw err;
  }
}

async function ip(args: string[]): Promise<void> {
  await runOk("ip", args);
}

async function createLabNetwork(lab: LabState): Promise<void> {
  await ip(["netns", "add", lab.netns]);
  await ip(["-n", lab.netns, "link", "set", "lo", "up"]);
  await ip(["-n", lab.netns, "link", "add", "br0", "type", "bridge"]);
  await ip(["-n", lab.netns, "addr", "add", `${lab.controllerAddress}/24`, "dev", "br0"]);
  await ip(["-n", lab.netns, "link", "set", "br0", "up"]);
}

/** Makes the node's SSH host key once; it survives `lab reset` so known_hosts stays valid. */
async function makeHostKey(lab: LabState, node: LabNode): Promise<string> {
  const dir = nodeDir(lab, node.name);
  mkdirSync(dir, { recursive: true });
  const key = join(dir, "ssh_host_ed25519_key");
  if (!existsSync(key))
    await runOk("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `root@${node.name}`, "-f", key]);
  const [type, blob] = readFileSync(`${key}.pub`, "utf8").trim().split(/\s+/);
  return `${type} ${blob}`;
}

/** Lays the node's writable layer over the factory image with what makes this board itself, and mounts it. */
async function prepareNode(lab: LabState, node: LabNode): Promise<void> {
  const dir = nodeDir(lab, node.name);
  const upper = join(dir, "upper");
  // The seed is what makes this board itself; the supervisor lays it again when it re-images the node.
  const seed = join(dir, "seed");
  rmSync(seed, { recursive: true, force: true });
  for (const d of ["upper", "work", "root", "seed", "data"]) mkdirSync(join(dir, d), { recursive: true });
  const put = (path: string, content: string | Buffer, mode = 0o644) => {
    const full = join(seed, path);
    mkdirSync(join(full, ".."), { recursive: true });
    writeFileSync(full, content);
    chmodSync(full, mode);
  };
  put("etc/hostname", `${node.factoryHostname}\n`);
  put(
    "etc/hosts",
    `127.0.0.1\tlocalhost\n127.0.1.1\t${node.factoryHostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`,
  );
  put("etc/ssh/ssh_host_ed25519_key", readFileSync(join(dir, "ssh_host_ed25519_key")), 0o600);
  put("etc/ssh/ssh_host_ed25519_key.pub", readFileSync(join(dir, "ssh_host_ed25519_key.pub")));
  put("root/.ssh/authorized_keys", readFileSync(`${lab.keyPath}.pub`), 0o600);
  chmodSync(join(seed, "root/.ssh"), 0o700);
  await runOk("cp", ["-a", `${seed}/.`, `${upper}/`]);
  if ((await run("mountpoint", ["-q", join(dir, "root")])).exitCode !== 0) {
    const layers = `lowerdir=${node.imageRoot ?? lab.imageRoot},upperdir=${upper},workdir=${join(dir, "work")}`;
    await runOk("mount", ["-t", "overlay", `pt-${lab.name}-${node.name}`, "-o", layers, join(dir, "root")]);
  }
}

function supervisorScript(): string {
  return join(packageRoot(), "src", "lab", "supervise.sh");
}

/** Writes the lab's CPU cap (or none) on a node's CPU cgroup: a quota per 100 ms period. */
function writeCpuQuota(lab: LabState, node: string): void {
  const cpu = cgroupDir(lab, node, "cpu");
  writeFileSync(`${cpu}/cpu.cfs_period_us`, "100000");
  writeFileSync(`${cpu}/cpu.cfs_quota_us`, lab.cpuLimit === undefined ? "-1" : String(lab.cpuLimit * 1000));
}

/** A CPU limit is a whole percentage of one core, 1 to 100 (undefined: none). */
function checkCpuLimit(percent: number | undefined): void {
  if (percent !== undefined && !(Number.isInteger(percent) && percent >= 1 && percent <= 100))
    throw new LabError(`--cpu-limit must be a whole percentage of one core, 1 to 100, not ${percent}`);
}

/** Caps every node of a running lab at `percent` of one core from now on (undefined: no cap). */
export function setCpuLimit(name: string, percent: number | undefined): void {
  const lab = requireLab(name);
  checkCpuLimit(percent);
  if (percent === undefined) delete lab.cpuLimit;
  else lab.cpuLimit = percent;
  for (const node of lab.nodes) writeCpuQuota(lab, node.name);
  writeLab(lab);
}

/** Powers the node on: starts its supervisor, detached, in a cgroup of its own. */
function startNode(lab: LabState, node: LabNode): void {
  const dir = nodeDir(lab, node.name);
  for (const h of CGROUP_HIERARCHIES) mkdirSync(cgroupDir(lab, node.name, h), { recursive: true });
  writeCpuQuota(lab, node.name);
  const child = spawn("bash", [supervisorScript(), lab.name, node.name], {
    detached: true,
    stdio: "ignore",
    env: {
      PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      LAB: lab.name,
      NODE: node.name,
      ROOT: join(dir, "root"),
      NETNS: node.netns,
      LAB_NETNS: lab.netns,
      VETH: `v-${node.name}`,
      MAC: `02:00:0a:58:00:${Number(node.address.split(".")[3]).toString(16).padStart(2, "0")}`,
      ADDRESS: `${node.address}/24`,
      MACHINE: `pt-${lab.name}-${node.name}`,
      REPO: node.imageRepo ?? lab.imageRepo,
      IMAGE_ROOT: node.imageRoot ?? lab.imageRoot,
      ...(node.nativeRoot === undefined ? {} : { NATIVE_ROOT: node.nativeRoot }),
      CGROUP: cgroupPath(lab, node.name),
      NODE_DIR: dir,
      // This PicoTrader and its Node.js, read-only in every node: a node can be the controller's host.
      PICOTRADER: packageRoot(),
      NODE_BIN: process.execPath,
    },
  });
  child.unref();
  if (child.pid === undefined) throw new LabError(`could not start the supervisor of ${node.name}`);
  writeFileSync(supervisorPidPath(lab, node.name), `${child.pid}\n`);
}

/**
 * Each node's supervisor PID is in a file of its own, not in the lab's shared state: two commands
 * that start or stop two nodes at once (two `lab start`s, or a test's Promise.all) each rewrote the
 * whole state, and the last write lost the other's PID, leaving a running node that the lab
 * believed off (and a second `lab start` that found its root busy).
 */
function supervisorPidPath(lab: LabState, node: string): string {
  return join(nodeDir(lab, node), "supervisor.pid");
}

/**
 * The PID of `node`'s running supervisor; undefined while the node is off. A lab whose nodes were
 * started before the PID had a file of its own has it in its state (`nodes[].supervisorPid`): read
 * there when the file is missing, so that `lab stop` and `lab down` still end those supervisors.
 */
export function supervisorPid(lab: LabState, node: string): number | undefined {
  const legacy = (lab.nodes.find((n) => n.name === node) as { supervisorPid?: unknown } | undefined)
    ?.supervisorPid;
  const pid =
    readPid(supervisorPidPath(lab, node)) ??
    (typeof legacy === "number" && Number.isInteger(legacy) && legacy > 0 ? legacy : undefined);
  return pid !== undefined && isSupervisor(pid, lab, node) ? pid : undefined;
}

/** True when `pid` is this lab's supervisor of `node` (never signal a process we did not start). */
function isSupervisor(pid: number, lab: LabState, node: string): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return argv[1] === supervisorScript() && argv[2] === lab.name && argv[3] === node;
  } catch {
    return false;
  }
}

function readPid(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Powers the node off (SIGTERM to nspawn shuts systemd down cleanly) and waits for its supervisor. */
async function stopNode(lab: LabState, node: LabNode): Promise<void> {
  const pid = supervisorPid(lab, node.name);
  if (pid !== undefined) {
    process.kill(pid, "SIGTERM");
    for (let i = 0; i < 100 && processAlive(pid) && isSupervisor(pid, lab, node.name); i++) await sleep(200);
    if (isSupervisor(pid, lab, node.name)) {
      const nspawn = readPid(join(nodeDir(lab, node.name), "nspawn.pid"));
      if (nspawn !== undefined && processAlive(nspawn)) process.kill(nspawn, "SIGKILL");
      process.kill(pid, "SIGKILL");
      await sleep(500);
    }
  }
  rmSync(supervisorPidPath(lab, node.name), { force: true });
  await endLeftovers(lab, node);
}

/** The pids of every process in a node's cgroup and the cgroups under it (unified hierarchy). */
function nodePids(lab: LabState, node: LabNode): number[] {
  const dir = cgroupDir(lab, node.name, "unified");
  if (!existsSync(dir)) return [];
  const files = [
    "cgroup.procs",
    ...readdirSync(dir, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith("/cgroup.procs")),
  ];
  return files.flatMap((f) => {
    try {
      return readFileSync(join(dir, f), "utf8").split("\n").filter(Boolean).map(Number);
    } catch {
      return [];
    }
  });
}

/**
 * Ends, by pid, what is left in the node's cgroup once its supervisor and nspawn are gone: under
 * qemu-user (an arm64 node) the container's systemd and its journald outlived nspawn, reparented
 * to the host's init, and kept the cgroup from being removed (seen after lab-arm64's runs).
 */
async function endLeftovers(lab: LabState, node: LabNode): Promise<void> {
  for (let i = 0; i < 25; i++) {
    const pids = nodePids(lab, node);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Gone already.
      }
    }
    await sleep(200);
  }
}

async function unmountNode(lab: LabState, node: LabNode): Promise<void> {
  const root = join(nodeDir(lab, node.name), "root");
  for (let i = 0; i < 10; i++) {
    if ((await run("mountpoint", ["-q", root])).exitCode !== 0) return;
    if ((await run("umount", [root])).exitCode === 0) return;
    await sleep(300);
  }
  await runOk("umount", ["--lazy", root]);
}

/**
 * Waits until every node accepts TCP connections on its SSH port, probing from inside the lab's
 * namespace with one helper process. Throws naming the nodes that did not answer in time.
 */
export async function waitForSsh(lab: LabState, nodes: LabNode[], timeoutSeconds: number): Promise<void> {
  const script = `
    deadline=$(( $(date +%s) + ${timeoutSeconds} ))
    for a in ${nodes.map((n) => `${n.address}/${n.sshPort}`).join(" ")}; do
      until timeout 1 bash -c "exec 3<>/dev/tcp/$a" 2>/dev/null; do
        [ "$(date +%s)" -ge "$deadline" ] && { echo "$a"; exit 1; }
        sleep 0.1
      done
    done`;
  const result = await run("nsenter", [`--net=/run/netns/${lab.netns}`, "bash", "-c", script]);
  if (result.exitCode !== 0) {
    const address = result.stdout.trim().split("/")[0];
    const node = nodes.find((n) => n.address === address)?.name ?? address;
    throw new LabError(
      `lab ${lab.name}: ${node} did not answer SSH within ${timeoutSeconds} s (see ${nodeDir(lab, String(node))}/console.log)`,
    );
  }
}

/**
 * Removes everything the lab made: node processes, mounts, namespaces, cgroups and its folder.
 * Works from the state file alone, so it also cleans up after a crashed CLI; goes on past
 * failures and reports them all at the end.
 */
export async function labDown(name: string): Promise<void> {
  assertLabHost();
  const lab = requireLab(name);
  const problems: string[] = [];
  const attempt = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      problems.push(`${what}: ${(err as Error).message}`);
    }
  };
  await Promise.all(lab.nodes.map((node) => attempt(`stopping ${node.name}`, () => stopNode(lab, node))));
  for (const node of lab.nodes) {
    await attempt(`unmounting ${node.name}`, () => unmountNode(lab, node));
    if (existsSync(`/run/netns/${node.netns}`))
      await attempt(`deleting ${node.netns}`, () => ip(["netns", "del", node.netns]));
  }
  if (existsSync(`/run/netns/${lab.netns}`))
    await attempt(`deleting ${lab.netns}`, () => ip(["netns", "del", lab.netns]));
  for (const h of CGROUP_HIERARCHIES) {
    const dir = `/sys/fs/cgroup/${h}/picotrader/${lab.name}`;
    if (existsSync(dir))
      await attempt(`removing cgroup ${dir}`, () =>
        runOk("find", [dir, "-depth", "-type", "d", "-exec", "rmdir", "{}", ";"]).then(() => undefined),
      );
  }
  // The shared parent goes with the last lab; while another lab runs, rmdir refuses, as it should.
  for (const h of CGROUP_HIERARCHIES) await run("rmdir", [`/sys/fs/cgroup/${h}/picotrader`]);
  if (problems.length === 0) {
    rmSync(labDir(name), { recursive: true, force: true });
    if (listLabs().length === 0) {
      restoreInotifyLimit(limitPaths(LAB_ROOT));
      // An arm64 image being built (before its lab exists) still needs the emulation.
      if (!emulatedBuildInProgress()) await removeArm64Emulation(LAB_ROOT);
    }
  } else
    throw new LabError(
      `lab ${name} was not fully removed (its state is kept for another try):\n${problems.join("\n")}`,
    );
}

/** Every node with its power state, whether SSH answers, and its memory. */
export async function labStatus(name: string): Promise<{ lab: LabState; nodes: LabNodeStatus[] }> {
  const lab = requireLab(name);
  const probe = lab.nodes
    .map(
      (n) => `timeout 1 bash -c "exec 3<>/dev/tcp/${n.address}/${n.sshPort}" 2>/dev/null && echo ${n.name}`,
    )
    .join("; ");
  const answering = existsSync(`/run/netns/${lab.netns}`)
    ? (await run("nsenter", [`--net=/run/netns/${lab.netns}`, "bash", "-c", probe])).stdout.split("\n")
    : [];
  const nodes = lab.nodes.map((node): LabNodeStatus => {
    const running = supervisorPid(lab, node.name) !== undefined;
    let power = "";
    try {
      power = readFileSync(join(nodeDir(lab, node.name), "power"), "utf8").trim();
    } catch {
      power = "off";
    }
    const state = running ? "running" : power === "halted" ? "halted" : "off";
    return {
      ...node,
      release: releaseOf(node),
      state,
      ssh: answering.includes(node.name),
      memoryBytes: running ? readMemory(lab, node.name) : undefined,
    };
  });
  return { lab, nodes };
}

function readMemory(lab: LabState, node: string): number | undefined {
  try {
    const stat = readFileSync(`${cgroupDir(lab, node, "memory")}/memory.stat`, "utf8");
    const rss = /^total_rss (\d+)$/m.exec(stat);
    return rss ? Number(rss[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Lists the labs on this machine by name. */
export function listLabs(): string[] {
  if (!existsSync(LAB_ROOT)) return [];
  return readdirSync(LAB_ROOT).filter((n) => existsSync(statePath(n)));
}

/** Returns a node to the factory image: powers it off, wipes its layer, boots it again. */
export async function labReset(name: string, nodeName: string): Promise<void> {
  assertLabHost();
  const lab = requireLab(name);
  const node = findNode(lab, nodeName);
  await stopNode(lab, node);
  await unmountNode(lab, node);
  const dir = nodeDir(lab, node.name);
  // The board's data disk is wiped with it, as flashing the eMMC's partition table would.
  for (const d of ["upper", "work", "data"]) rmSync(join(dir, d), { recursive: true, force: true });
  await prepareNode(lab, node);
  startNode(lab, node);
  await waitForSsh(lab, [node], 120);
}

/** Powers a node on again (after a power-off or a halt); waits for SSH. */
export async function labStart(name: string, nodeName: string): Promise<void> {
  assertLabHost();
  const lab = requireLab(name);
  const node = findNode(lab, nodeName);
  if (supervisorPid(lab, node.name) !== undefined) return;
  startNode(lab, node);
  await waitForSsh(lab, [node], 120);
}

/**
 * Powers a node off: cleanly (systemd shuts down), or with `powerCut` as pulling its plug would:
 * every process of the node is killed at once (its cgroup's cgroup.kill), with no shutdown at all.
 * Files the node wrote stay in this machine's page cache, so a power cut here loses no written
 * data that a real one might: what it tests is the services' recovery, not the disks'.
 */
export async function labStop(
  name: string,
  nodeName: string,
  options: { powerCut?: boolean } = {},
): Promise<void> {
  assertLabHost();
  const lab = requireLab(name);
  const node = findNode(lab, nodeName);
  const pid = supervisorPid(lab, node.name);
  if (options.powerCut && pid !== undefined) {
    writeFileSync(`${cgroupDir(lab, node.name, "unified")}/cgroup.kill`, "1");
    // The supervisor sees its node end with a status that is not a reboot's, and stays off.
    for (let i = 0; i < 50 && processAlive(pid) && isSupervisor(pid, lab, node.name); i++) await sleep(100);
  }
  await stopNode(lab, node);
}

/** What the reconciler needs to reach this lab's nodes, as environment variables. */
export function labEnv(lab: LabState): Record<string, string> {
  return {
    PICOTRADER_LAB: lab.name,
    PICOTRADER_IDENTITY: lab.keyPath,
    PICOTRADER_KNOWN_HOSTS: lab.knownHostsPath,
    PICOTRADER_BOOTSTRAP_PASSWORD: FACTORY_PASSWORD,
    [DEFAULT_VRRP_PASSWORD_ENV]: LAB_VRRP_PASSWORD,
    [DEFAULT_POSTGRES_PASSWORD_ENV]: LAB_POSTGRES_PASSWORD,
    [DEFAULT_REPLICATION_PASSWORD_ENV]: LAB_REPLICATION_PASSWORD,
    // The lab's etcd CA lives, and goes, with the lab.
    PICOTRADER_PKI: join(labDir(lab.name), "pki"),
  };
}

/** The command line that runs `argv` inside the lab's network namespace with labEnv() set. */
export function labRunArgv(lab: LabState, argv: string[]): string[] {
  return [
    "nsenter",
    `--net=/run/netns/${lab.netns}`,
    "env",
    ...Object.entries(labEnv(lab)).map(([k, v]) => `${k}=${v}`),
    ...argv,
  ];
}

/** The ssh command line that logs in to a node as `user` with the lab key, host key pinned. */
export function labSshArgv(lab: LabState, nodeName: string, command: string[], user = "root"): string[] {
  const node = findNode(lab, nodeName);
  return [
    "nsenter",
    `--net=/run/netns/${lab.netns}`,
    "ssh",
    "-i",
    lab.keyPath,
    "-o",
    `UserKnownHostsFile=${lab.knownHostsPath}`,
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    "BatchMode=yes",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "ConnectTimeout=5",
    "-p",
    String(node.sshPort),
    `${user}@${node.address}`,
    ...(command.length > 0 ? ["--", ...command] : []),
  ];
}

/** The folder, beside the lab manifest, of the TFTP stand-in files (labManifest()'s tftp.root). */
export const LAB_TFTP_ROOT = "tftp";

/**
 * Lays out the TFTP server's files for the lab in `folder`/tftp, as tftp-prepare does for a real
 * image: a small stand-in image (the lab re-images by resetting a node, the bytes do not matter but
 * are checked) and stand-in kernel files. The same bytes every time, so a plan does not change.
 */
export function writeLabTftpStandIns(folder: string): string {
  const work = mkdtempSync(join(tmpdir(), "picotrader-standin-"));
  try {
    const image = join(work, "standin.img");
    writeFileSync(image, Buffer.alloc(256 * 1024, "picotrader lab stand-in image\n"));
    mkdirSync(join(work, "boot"));
    for (const f of ["Image", "meson64_odroidc2.dtb", "uInitrd"])
      writeFileSync(join(work, "boot", f), `stand-in ${f}\n`);
    const out = join(folder, LAB_TFTP_ROOT);
    prepareTftpRoot(image, out, 64 * 1024, join(work, "boot"));
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The lab manifest's admin user (labManifest()). */
export const LAB_ADMIN_USER = "sysman";

/**
 * Who `lab ssh` logs in as: the admin user once the node has it (after a reconcile, root login is
 * off), else root (a factory-fresh node). Tries a key login as the admin user once.
 */
export async function labLoginUser(lab: LabState, nodeName: string): Promise<string> {
  const [file, ...args] = labSshArgv(lab, nodeName, ["true"], LAB_ADMIN_USER);
  const r = await run(file as string, args);
  return r.exitCode === 0 ? LAB_ADMIN_USER : "root";
}

/**
 * A cluster.yaml for the lab: the real schema, the lab's addresses and virtual IP, and everything a
 * user can try: the runtime, the highly available API, and node1 serving TFTP from the stand-in
 * files writeLabTftpStandIns() lays out beside the manifest (so that raising a node's generation
 * rebuilds it); with 3 nodes or more, all of Debian 12, the datastore and the database on the first
 * three (etcd, and PostgreSQL under Patroni), and a GlusterFS volume from their data disks (/data),
 * mounted at /mnt/shared on every node. With `runtime: false`, only the access and network
 * concerns, for tests that are about something else.
 */
export function labManifest(lab: LabState, options: { runtime?: boolean } = {}): string {
  const key = readFileSync(`${lab.keyPath}.pub`, "utf8").trim();
  const controlPlanes = lab.nodes.length >= 3 ? 2 : 1;
  // bullseye carries neither etcd 3.4 nor PostgreSQL 15 (the lab's image has bookworm's only); its
  // GlusterFS 9 is left out with them, so that a pool never mixes two versions.
  const datastore =
    options.runtime !== false && lab.nodes.length >= 3 && lab.nodes.every((n) => releaseOf(n) === "bookworm");
  const lines = [
    `# yaml-language-server: $schema=${join(packageRoot(), "schema", "cluster.schema.json")}`,
    `# The lab "${lab.name}": ${lab.nodes.length} simulated nodes (picotrader lab status --name ${lab.name}).`,
    "apiVersion: picotrader/v1",
    "cluster:",
    `  name: lab-${lab.name}`,
    `  subnet: ${lab.subnet}`,
    `  virtualIp: ${lab.virtualIp}`,
    "admin:",
    `  user: ${LAB_ADMIN_USER}`,
    "  sshKeys:",
    `    - ${key}`,
    "workstation:",
    "  name: workstation",
    `  address: ${lab.controllerAddress}`,
    ...(options.runtime === false
      ? []
      : [
          "# The runtime and the highly available API, with their defaults.",
          "swap:",
          "  enabled: false",
          "kernel: {}",
          "docker: {}",
          "keepalived: {}",
          "haproxy: {}",
          "# node1 serves the boards' image over TFTP (stand-in files in ./tftp, made by tftp-prepare):",
          "# raise a node's generation to rebuild it (reconcile --allow-rebuild).",
          "tftp:",
          `  root: ${LAB_TFTP_ROOT}`,
        ]),
    ...(datastore
      ? [
          "# The datastore and the database on node1-3: etcd with TLS (its CA kept by the controller), and",
          "# PostgreSQL under Patroni, on the virtual IP's 5432 (primary) and 5433 (replicas).",
          "etcd: {}",
          "postgres: {}",
          "# Shared files: a GlusterFS volume (replica 3, arbiter 1) from node1-3's data disks (/data),",
          "# mounted at /mnt/shared on every node.",
          "storage: {}",
        ]
      : []),
    "nodes:",
  ];
  lab.nodes.forEach((node, i) => {
    const roles = [
      i < controlPlanes ? "control-plane" : "worker",
      ...(i === 0 && options.runtime !== false ? ["tftp"] : []),
      ...(datastore && i < 3 ? ["etcd", "database", "storage"] : []),
    ];
    lines.push(`  - name: ${node.name}`, `    address: ${node.address}`, `    roles: [${roles.join(", ")}]`);
  });
  return lines.join("\n") + "\n";
}
