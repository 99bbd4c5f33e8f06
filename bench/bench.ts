// npm run bench [-- --ansible]: figures for PicoTrader on real lab nodes (root needed), run as a
// user runs it: the `picotrader` bin of this package installed with npm into a scratch prefix.
// Wall times are elapsed time of the whole command; CPU times are user + system time, of the
// controller's process (GNU time) or of a node's processes (its cgroup). Medians of BENCH_RUNS runs.
//   - validate: wall and CPU time of `picotrader validate` on the lab manifest.
//   - per lab size (BENCH_NODES, default 3,10,30): `lab up`, a reconcile from factory, then the
//     converged dry-run: wall, controller CPU and peak RSS, and the nodes' CPU per observation.
//     With --ansible, Ansible's check mode of the same baseline (bench/ansible) alternates with it.
//   - on the first size: the datastore's and database's idle memory per node and a failover time
//     (the primary's node's power cut, until another member leads); watch-mode drift ticks over
//     kept SSH sessions, and each concern's share of their node CPU; the same dry-run with every
//     node capped at a Cortex-A53's speed (from sysbench); a 1 GiB TFTP image: first copy, the
//     controller's peak RSS during it, and the dry-run after it.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ansibleCheckArgv, ensureAnsible, recapChanged } from "./ansible.js";
import { ensureCommand } from "./debian.js";
import { nodeCpuMsOf } from "./node-cpu.js";
import {
  labDown,
  labEnv,
  labManifest,
  labRunArgv,
  labSshArgv,
  labStart,
  labStop,
  labUp,
  readLab,
  setCpuLimit,
  writeLabTftpStandIns,
  type LabState,
} from "../src/lab/lab.js";
import { readInputs } from "../src/manifest/inputs.js";
import { loadManifest } from "../src/manifest/validate.js";
import { packageRoot } from "../src/paths.js";
import type { ReconcileReport } from "../src/report/json.js";
import { prepareTftpRoot } from "../src/tftp.js";
import { mapLimit, run, runOk, type RunResult } from "../src/util/run.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
/** Rounds of PicoTrader, then Ansible tuned, then Ansible without pipelining (1 above 10 nodes). */
const ANSIBLE_RUNS = Number(process.env.BENCH_ANSIBLE_RUNS ?? 3);
const SIZES = (process.env.BENCH_NODES ?? "3,10,30").split(",").map(Number);
const WITH_ANSIBLE = process.argv.includes("--ansible");
/**
 * sysbench 1.0.20 `cpu --threads=1` on a Raspberry Pi 3B+ (Cortex-A53 at 1.4 GHz): 687.45 events/s
 * (leoncode.co.uk, "Raspberry Pi CPU Benchmarks"), scaled to the Odroid C2's 1.5 GHz.
 */
const A53_SYSBENCH_EVENTS = (687.45 * 1.5) / 1.4;

const scratch = mkdtempSync(join(tmpdir(), "picotrader-bench-"));
// The controller's digest cache of this bench's runs: a user's own stays as it is.
process.env.PICOTRADER_CACHE = join(scratch, "cache");
const timeFile = join(scratch, "time");

interface Timed extends RunResult {
  wallMs: number;
  cpuMs: number;
  maxRssMb: number;
}

/** Runs argv under GNU time (inside the lab's network when `lab` is given). */
async function timed(argv: string[], lab?: LabState, env: Record<string, string> = {}): Promise<Timed> {
  const inner = ["/usr/bin/time", "-f", "%U %S %M", "-o", timeFile, ...argv];
  const [file, ...args] = lab ? labRunArgv(lab, inner) : inner;
  const started = process.hrtime.bigint();
  const r = await run(file as string, args, { env: { ...process.env, ...env } });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const [user = NaN, system = NaN, rssKb = NaN] = readFileSync(timeFile, "utf8")
    .trim()
    .split("\n")
    .at(-1)!
    .split(" ")
    .map(Number);
  return { ...r, wallMs, cpuMs: (user + system) * 1000, maxRssMb: rssKb / 1024 };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const range = (v: number[], f: (x: number) => string) =>
  `${f(median(v))} (${f(Math.min(...v))}–${f(Math.max(...v))})`;

/** The bin as a user has it: `npm pack`, then `npm install --global` into a scratch prefix. */
async function installBin(): Promise<string> {
  const prefix = join(scratch, "prefix");
  const pack = await runOk("npm", ["pack", "--silent", "--pack-destination", scratch], {
    cwd: packageRoot(),
  });
  const tarball = join(scratch, pack.stdout.trim().split("\n").at(-1) ?? "");
  await runOk("npm", [
    "install",
    "--global",
    "--prefix",
    prefix,
    "--no-audit",
    "--no-fund",
    "--prefer-offline",
    tarball,
  ]);
  return join(prefix, "bin", "picotrader");
}

/** Dry-runs of a converged lab: wall, controller CPU and RSS, and node CPU per observation. */
async function dryRuns(bin: string, lab: LabState, file: string, runs: number) {
  const wall: number[] = [];
  const cpu: number[] = [];
  const rss: number[] = [];
  let report: ReconcileReport | undefined;
  const nodeCpuMs = await nodeCpuMsOf(lab, async () => {
    for (let i = 0; i < runs; i++) {
      const r = await timed(
        [bin, "reconcile", "-f", file, "--dry-run", "--detailed-exitcode", "--json"],
        lab,
      );
      if (r.exitCode !== 0) throw new Error(`dry-run of the converged lab exited ${r.exitCode}: ${r.stderr}`);
      wall.push(r.wallMs);
      cpu.push(r.cpuMs);
      rss.push(r.maxRssMb);
      report = JSON.parse(r.stdout) as ReconcileReport;
    }
  });
  return {
    wall,
    cpu,
    rss,
    nodeCpuMs: nodeCpuMs / (runs * lab.nodes.length),
    execs: [...new Set(report?.results.map((r) => r.stats.execs))].join("/"),
  };
}

async function hostSysbenchEvents(): Promise<number> {
  await ensureCommand("sysbench", ["sysbench"]);
  const r = await runOk("sysbench", ["cpu", "--threads=1", "--time=10", "run"]);
  return Number(/events per second:\s*([\d.]+)/.exec(r.stdout)?.[1]);
}

/** `picotrader validate` of a lab manifest, beside a bare Node.js start. */
async function validateFigures(bin: string, file: string): Promise<void> {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await timed([bin, "validate", "-f", file]);
    if (r.exitCode !== 0) throw new Error(`validate failed: ${r.stderr}`);
    wall.push(r.wallMs);
    cpu.push(r.cpuMs);
  }
  const bare = await timed([process.execPath, "-e", "0"]);
  // Node.js reads NODE_EXTRA_CA_CERTS's certificates at every start; the bin starts without them.
  const certs = process.env.NODE_EXTRA_CA_CERTS;
  const bareWithout =
    certs && (await timed(["env", "-u", "NODE_EXTRA_CA_CERTS", process.execPath, "-e", "0"]));
  console.log(
    `validate: ${range(wall, (x) => `${x.toFixed(0)} ms`)} wall, ${median(cpu).toFixed(0)} ms CPU (a bare \`node -e 0\`: ${bare.wallMs.toFixed(0)} ms wall, ${bare.cpuMs.toFixed(0)} ms CPU${bareWithout ? `; ${bareWithout.wallMs.toFixed(0)} ms wall, ${bareWithout.cpuMs.toFixed(0)} ms CPU without NODE_EXTRA_CA_CERTS=${certs}` : ""})`,
  );
}

async function benchSize(bin: string, nodes: number, first: boolean): Promise<void> {
  const name = `bench${nodes}`;
  if (readLab(name)) await labDown(name);
  const upStarted = Date.now();
  const lab = await labUp(name, nodes);
  const upMs = Date.now() - upStarted;
  try {
    const folder = mkdtempSync(join(scratch, `lab${nodes}-`));
    const file = join(folder, "lab.yaml");
    writeFileSync(file, labManifest(lab));
    writeLabTftpStandIns(folder);
    if (first) await validateFigures(bin, file);
    const converge = await timed([bin, "reconcile", "-f", file, "--yes"], lab);
    if (converge.exitCode !== 0)
      throw new Error(`reconcile failed: ${converge.stderr}${converge.stdout.slice(-3000)}`);
    console.log(`\n${nodes} nodes: lab up ${s(upMs)}; reconcile from factory ${s(converge.wallMs)} wall`);
    const d = await dryRuns(bin, lab, file, RUNS);
    console.log(
      [
        `  converged dry-run (${RUNS} runs, whole command): ${range(d.wall, s)} wall;`,
        `controller CPU ${range(d.cpu, (x) => `${x.toFixed(0)} ms`)}; controller peak RSS ${median(d.rss).toFixed(0)} MB;`,
        `node CPU ${d.nodeCpuMs.toFixed(1)} ms per observation (login, sudo and probe; ${d.execs} exec per node)`,
      ].join(" "),
    );
    if (WITH_ANSIBLE) await compareAnsible(bin, lab, file);
    if (first) {
      if (readFileSync(file, "utf8").includes("\nstorage:")) await storageFigures(lab);
      if (readFileSync(file, "utf8").includes("\npostgres:")) await datastoreFigures(lab);
      // The outages above end with a node booting again: what follows measures a converged lab.
      await waitConverged(bin, lab, file);
      await keptSessions(lab, file);
      await slowNodes(bin, lab, file);
      await bigTftp(bin, lab, folder, file);
    }
  } finally {
    await labDown(name);
  }
}

/** Waits (3 minutes at most) until a dry-run of the lab plans nothing and reaches every node. */
async function waitConverged(bin: string, lab: LabState, file: string): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const r = await timed([bin, "reconcile", "-f", file, "--dry-run", "--detailed-exitcode"], lab);
    if (r.exitCode === 0) return;
    if (Date.now() > deadline) throw new Error(`the lab did not converge again: ${r.stdout.slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

/** Runs `command` on a lab node as root (through the admin user's sudo). */
async function onNode(lab: LabState, node: string, command: string): Promise<RunResult> {
  const [cmd, ...args] = labSshArgv(
    lab,
    node,
    [`sudo -n sh -c '${command.replace(/'/g, "'\\''")}'`],
    "sysman",
  );
  return run(cmd as string, args);
}

/**
 * The datastore's and the database's figures on a converged lab: the idle resident memory of etcd,
 * Patroni and PostgreSQL per node (ps), and a failover: the primary's node loses its power, and the
 * time until another member leads (Patroni's view, polled every 0.5 s from a surviving node).
 */
async function datastoreFigures(lab: LabState): Promise<void> {
  const members = lab.nodes.slice(0, 3).map((n) => n.name);
  const rss = await memoryLine(lab, members, [
    ["etcd", "etcd"],
    ["patroni", "Patroni"],
    ["postgres", "PostgreSQL"],
  ]);
  console.log(`  datastore and database, idle resident memory: ${rss}`);
  const leader = async (from: string) => {
    const r = await onNode(lab, from, "patronictl -c /etc/patroni/config.yml list -f json");
    try {
      return (JSON.parse(r.stdout) as { Member: string; Role: string; State: string }[]).find(
        (m) => m.Role === "Leader" && m.State === "running",
      )?.Member;
    } catch {
      return undefined;
    }
  };
  const old = await leader(members[0] as string);
  const witness = members.find((n) => n !== old);
  if (!old || !witness) return console.log("  failover: no leader to cut");
  const cutAt = Date.now();
  await labStop(lab.name, old, { powerCut: true });
  let now: string | undefined;
  while (Date.now() - cutAt < 120_000 && ((now = await leader(witness)) === undefined || now === old))
    await new Promise((r) => setTimeout(r, 500));
  console.log(
    `  failover (Patroni ttl 30 s, loop_wait 10 s): ${old} lost its power; ${now ?? "no one"} led ${s(Date.now() - cutAt)} later (wall)`,
  );
  await labStart(lab.name, old);
}

/**
 * Each node's resident memory (MB) of the processes named by `parts` (command name, label): its
 * total, then each part, as "node1 61 MB (glusterd 20, brick 16)"; nodes joined by "; ".
 */
async function memoryLine(lab: LabState, nodes: string[], parts: [string, string][]): Promise<string> {
  const lines: string[] = [];
  for (const node of nodes) {
    const r = await onNode(lab, node, `ps -o rss=,comm= -C ${parts.map(([comm]) => comm).join(",")}`);
    const by = new Map<string, number>();
    for (const [kb, comm] of r.stdout
      .trim()
      .split("\n")
      .map((l) => l.trim().split(/\s+/)))
      if (comm) by.set(comm, (by.get(comm) ?? 0) + Number(kb) / 1024);
    const total = [...by.values()].reduce((a, b) => a + b, 0);
    const each = parts.map(([comm, label]) => `${label} ${(by.get(comm) ?? 0).toFixed(0)}`).join(", ");
    lines.push(`${node} ${total.toFixed(0)} MB (${each})`);
  }
  return lines.join("; ");
}

/**
 * The shared volume's figures on a converged lab: the idle resident memory of GlusterFS per node;
 * the write throughput through node1's mount against a plain folder of the same node (this
 * machine's disk under both); the heal after an outage: node2 is powered off cleanly, files are
 * written through node1, node2 is started, and the time until nothing is left to heal.
 */
async function storageFigures(lab: LabState): Promise<void> {
  const servers = lab.nodes.slice(0, 3).map((n) => n.name);
  const rss = await memoryLine(lab, servers, [
    ["glusterd", "glusterd"],
    ["glusterfsd", "brick"],
    ["glusterfs", "self-heal daemon and FUSE client"],
  ]);
  console.log(`  shared volume, idle resident memory: ${rss}`);
  const write = async (path: string) => {
    const r = await onNode(
      lab,
      "node1",
      `dd if=/dev/zero of=${path} bs=1M count=256 conv=fsync 2>&1 | tail -n 1; rm -f ${path}`,
    );
    return r.stdout.trim().replace(/^.*copied, /, "");
  };
  const rounds: string[] = [];
  for (let i = 0; i < 3; i++)
    rounds.push(
      `volume ${await write("/mnt/shared/bench.bin")} | local ${await write("/var/tmp/bench.bin")}`,
    );
  console.log(
    `  write of 256 MiB (dd, fsync), through node1's mount | to a folder of node1, alternating: ${rounds.join("; ")}`,
  );
  const pending = async () => {
    const r = await onNode(lab, "node1", "gluster volume heal shared statistics heal-count");
    const counts = [...r.stdout.matchAll(/^Number of entries: (\d+)$/gm)].map((m) => Number(m[1]));
    return counts.length === servers.length ? counts.reduce((a, b) => a + b, 0) : -1;
  };
  await labStop(lab.name, "node2");
  await onNode(
    lab,
    "node1",
    "for i in $(seq 1 100); do head -c 1048576 /dev/zero > /mnt/shared/heal-$i || exit 1; done",
  );
  const startedAt = Date.now();
  await labStart(lab.name, "node2");
  const answeredAt = Date.now();
  let left = await pending();
  while (left !== 0 && Date.now() - startedAt < 300_000) {
    await new Promise((r) => setTimeout(r, 250));
    left = await pending();
  }
  console.log(
    `  heal after an outage: 100 files of 1 MiB written while node2 was off; ${left === 0 ? `healed ${s(Date.now() - startedAt)} after its start (${s(Date.now() - answeredAt)} after it answered SSH)` : `${left} entries still waiting after 300 s`} (wall)`,
  );
  await onNode(lab, "node1", "rm -f /mnt/shared/heal-*");
}

/** Ansible's check of the same baseline, alternating with PicoTrader's dry-run, in the same lab. */
async function compareAnsible(bin: string, lab: LabState, file: string): Promise<void> {
  const m = loadManifest(file);
  const inputs = readInputs(m, file, { ...process.env, ...labEnv(lab) });
  // The apt module's check mode needs python3-apt on the node (Ubuntu's server images have it).
  await mapLimit(lab.nodes, 4, async (node) => {
    const [cmd, ...args] = labSshArgv(
      lab,
      node.name,
      ["sudo -n apt-get install -y -q python3-apt"],
      m.admin.user,
    );
    await runOk(cmd as string, args);
  });
  const ours: number[] = [];
  const tuned: number[] = [];
  const plain: number[] = [];
  let changed = NaN;
  // Ansible takes minutes on a large lab: one round there.
  const rounds = lab.nodes.length > 10 ? 1 : ANSIBLE_RUNS;
  for (let i = 0; i < rounds; i++) {
    ours.push((await dryRuns(bin, lab, file, 1)).wall[0] ?? NaN);
    for (const [pipelining, into] of [
      [true, tuned],
      [false, plain],
    ] as const) {
      const { argv, env } = ansibleCheckArgv(
        lab,
        m,
        inputs,
        join(scratch, `ansible-${lab.name}`),
        pipelining,
      );
      const r = await timed(argv, lab, env);
      if (r.exitCode !== 0)
        throw new Error(`ansible-playbook --check exited ${r.exitCode}: ${r.stdout.slice(-3000)}`);
      into.push(r.wallMs);
      changed = recapChanged(r.stdout);
    }
  }
  console.log(
    [
      `  Ansible --check of the same baseline, alternating (${rounds} round(s), wall):`,
      `PicoTrader dry-run ${range(ours, s)};`,
      `Ansible with pipelining and ControlPersist ${range(tuned, s)} (${(median(tuned) / median(ours)).toFixed(1)}× PicoTrader);`,
      `Ansible without pipelining ${range(plain, s)} (${(median(plain) / median(ours)).toFixed(1)}×);`,
      `Ansible reported ${changed} change(s) in check mode`,
    ].join(" "),
  );
}

/** watch mode's drift ticks over kept sessions (bench/kept-session.ts, run in the lab). */
async function keptSessions(lab: LabState, file: string): Promise<void> {
  const [cmd, ...args] = labRunArgv(lab, [
    process.execPath,
    join(packageRoot(), "dist", "bench", "kept-session.js"),
    file,
    String(RUNS * 2),
  ]);
  const r = await runOk(cmd as string, args);
  const k = JSON.parse(r.stdout) as {
    ticks: number;
    reused: number;
    wallMs: number[];
    controllerCpuMs: number[];
    nodeCpuMsPerObservation: number;
    probeStartMs: number;
    byConcernMs: Record<string, number>;
  };
  console.log(
    [
      `  watch drift tick over kept sessions (${k.ticks} ticks, ${k.reused} session reuses):`,
      `${range(k.wallMs, (x) => `${x.toFixed(0)} ms`)} wall; controller CPU ${median(k.controllerCpuMs).toFixed(0)} ms per tick;`,
      `node CPU ${k.nodeCpuMsPerObservation.toFixed(1)} ms per observation (the probe alone: no login)`,
    ].join(" "),
  );
  const shares = Object.entries(k.byConcernMs)
    .sort(([, a], [, b]) => b - a)
    .map(([name, ms]) => `${name} ${ms.toFixed(1)}`);
  console.log(
    [
      `  node CPU per observation by concern, over kept sessions (ms; each observed alone, less the probe's start of ${k.probeStartMs.toFixed(1)} ms,`,
      `so each service pays its own \`systemctl is-active\`, about 6 ms, which the whole probe pays once): ${shares.join(", ")}`,
    ].join(" "),
  );
}

/** The same dry-run with every node capped at a Cortex-A53's single-core speed. */
async function slowNodes(bin: string, lab: LabState, file: string): Promise<void> {
  const events = await hostSysbenchEvents();
  const percent = Math.max(1, Math.min(100, Math.round((100 * A53_SYSBENCH_EVENTS) / events)));
  setCpuLimit(lab.name, percent);
  try {
    const d = await dryRuns(bin, lab, file, RUNS);
    console.log(
      [
        `  nodes capped at ${percent}% of a core (sysbench: this machine ${events.toFixed(0)} events/s, an A53 at 1.5 GHz ${A53_SYSBENCH_EVENTS.toFixed(0)}):`,
        `converged dry-run ${range(d.wall, s)} wall; node CPU ${d.nodeCpuMs.toFixed(1)} ms per observation`,
      ].join(" "),
    );
  } finally {
    setCpuLimit(lab.name, undefined);
  }
}

/** A 1 GiB image served over TFTP: its first copy, and the dry-run once it is in place. */
async function bigTftp(bin: string, lab: LabState, folder: string, file: string): Promise<void> {
  const image = join(scratch, "image.img");
  // Random content, written in 64 MiB pieces: nothing compresses or dedups it along the way.
  await runOk("sh", ["-c", `head -c 1073741824 /dev/urandom > ${image}`]);
  const root = join(folder, "tftp");
  const boot = join(scratch, "boot");
  rmSync(root, { recursive: true, force: true });
  await runOk("mkdir", ["-p", boot]);
  for (const f of ["Image", "meson64_odroidc2.dtb", "uInitrd"])
    writeFileSync(join(boot, f), `stand-in ${f}\n`);
  prepareTftpRoot(image, root, 16 * 1024 * 1024, boot);
  rmSync(image);
  const parts = readdirSync(join(root, "c2")).length;
  const copy = await timed([bin, "reconcile", "-f", file, "--yes", "--only", "node1"], lab);
  if (copy.exitCode !== 0) throw new Error(`the TFTP copy failed: ${copy.stderr}${copy.stdout.slice(-3000)}`);
  // The node's page cache writes the gigabyte back first: the dry-run is measured once it has.
  await runOk("sync", []);
  const d = await dryRuns(bin, lab, file, RUNS);
  console.log(
    [
      `  1 GiB TFTP image (${parts} files of 16 MiB): first copy ${s(copy.wallMs)} wall, controller peak RSS ${copy.maxRssMb.toFixed(0)} MB;`,
      `converged dry-run after it ${range(d.wall, s)} wall, node CPU ${d.nodeCpuMs.toFixed(1)} ms per observation`,
    ].join(" "),
  );
}

console.log(`PicoTrader bench: ${new Date().toISOString()}, ${RUNS} runs per figure`);
try {
  if (WITH_ANSIBLE) console.log(`peer: ${await ensureAnsible((l) => console.log(l))}`);
  const bin = await installBin();
  for (const [i, n] of SIZES.entries()) await benchSize(bin, n, i === 0);
} finally {
  // The installed bin and the scratch files go whether the bench ended or failed.
  rmSync(scratch, { recursive: true, force: true });
}
