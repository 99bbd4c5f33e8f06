// npm run bench: figures for the engine on real lab nodes (root needed). For a converged lab of
// 3 and of 10 nodes (BENCH_NODES=3,10): time to boot the lab, time of a from-scratch reconcile, and
// for `reconcile --dry-run` (several runs): its wall time, the controller's CPU time (user + system
// of the CLI's process, from GNU time), the CPU time each observation costs a node (read from the
// nodes' cgroups, their idle use over as long subtracted), and SSH connections and execs per node
// from the transport's own counters in the JSON report.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  labDown,
  labManifest,
  labRunArgv,
  labUp,
  readLab,
  readNodeCpuUsec,
  writeLabTftpStandIns,
} from "../src/lab/lab.js";
import { packageRoot } from "../src/paths.js";
import type { ReconcileReport } from "../src/report/json.js";
import { run } from "../src/util/run.js";

const RUNS = 7;

const cpuFile = join(mkdtempSync(join(tmpdir(), "picotrader-bench-cpu-")), "time");

/** Runs the built CLI in the lab: its result, wall ms, and CPU ms (user + system) of its process. */
async function cli(lab: NonNullable<ReturnType<typeof readLab>>, args: string[]) {
  const [file, ...rest] = labRunArgv(lab, [
    "/usr/bin/time",
    "-f",
    "%U %S",
    "-o",
    cpuFile,
    "node",
    join(packageRoot(), "dist", "src", "cli.js"),
    ...args,
  ]);
  const started = process.hrtime.bigint();
  const r = await run(file as string, rest);
  const [user = NaN, system = NaN] = readFileSync(cpuFile, "utf8").trim().split(" ").map(Number);
  return { ...r, ms: Number(process.hrtime.bigint() - started) / 1e6, cpuMs: (user + system) * 1000 };
}

/** CPU time all the lab's nodes have used, in microseconds. */
function labCpuUsec(lab: NonNullable<ReturnType<typeof readLab>>): number {
  return lab.nodes.reduce((sum, n) => sum + (readNodeCpuUsec(lab, n.name) ?? NaN), 0);
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function bench(nodes: number): Promise<void> {
  const name = `bench${nodes}`;
  if (readLab(name)) await labDown(name);
  const upStarted = Date.now();
  const lab = await labUp(name, nodes);
  const upMs = Date.now() - upStarted;
  try {
    const folder = mkdtempSync(join(tmpdir(), "picotrader-bench-"));
    const file = join(folder, "lab.yaml");
    writeFileSync(file, labManifest(lab));
    writeLabTftpStandIns(folder);
    const converge = await cli(lab, ["reconcile", "-f", file, "--json", "--yes"]);
    if (converge.exitCode !== 0)
      throw new Error(`reconcile failed: ${converge.stderr}${converge.stdout.slice(0, 2000)}`);
    const times: number[] = [];
    const cpu: number[] = [];
    let report: ReconcileReport | undefined;
    const busyFrom = labCpuUsec(lab);
    const wallFrom = Date.now();
    for (let i = 0; i < RUNS; i++) {
      const r = await cli(lab, ["reconcile", "-f", file, "--dry-run", "--detailed-exitcode", "--json"]);
      if (r.exitCode !== 0) throw new Error(`dry-run of the converged lab exited ${r.exitCode}: ${r.stderr}`);
      times.push(r.ms);
      cpu.push(r.cpuMs);
      report = JSON.parse(r.stdout) as ReconcileReport;
    }
    const busy = labCpuUsec(lab) - busyFrom;
    const wall = Date.now() - wallFrom;
    // The nodes' own background (systemd, dockerd, keepalived) over as long, with nothing observing.
    const idleFrom = labCpuUsec(lab);
    await new Promise((r) => setTimeout(r, wall));
    const idle = labCpuUsec(lab) - idleFrom;
    const perObservationMs = (busy - idle) / (RUNS * nodes) / 1000;
    const connections = [...new Set(report?.results.map((r) => r.stats.connections))].join("/");
    const execs = [...new Set(report?.results.map((r) => r.stats.execs))].join("/");
    const identity = [...new Set(report?.plan.nodes.map((n) => n.identity))].join("/");
    console.log(
      [
        `${nodes} nodes:`,
        `lab up ${(upMs / 1000).toFixed(1)} s;`,
        `reconcile from factory ${(converge.ms / 1000).toFixed(2)} s;`,
        `dry-run of the converged lab: median ${(median(times) / 1000).toFixed(3)} s wall (min ${(Math.min(...times) / 1000).toFixed(3)}, max ${(Math.max(...times) / 1000).toFixed(3)}, ${RUNS} runs, CLI start included);`,
        `controller CPU median ${median(cpu).toFixed(0)} ms;`,
        `node CPU per observation ${perObservationMs.toFixed(1)} ms (idle ${(idle / 1000 / nodes).toFixed(0)} ms per node subtracted);`,
        `per node: ${connections} SSH connection attempt(s), ${execs} exec(s), logged in as ${identity}`,
      ].join(" "),
    );
  } finally {
    await labDown(name);
  }
}

const sizes = (process.env.BENCH_NODES ?? "3,10").split(",").map(Number);
for (const n of sizes) await bench(n);
