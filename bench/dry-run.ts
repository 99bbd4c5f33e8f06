// npm run bench: figures for the engine on real lab nodes (root needed). For a converged lab of
// 3 and of 10 nodes: time to boot the lab, time of a from-scratch reconcile, and the wall time
// of `reconcile --dry-run` (median of several runs) with SSH connections and execs per node,
// read from the transport's own counters in the JSON report.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { labDown, labManifest, labRunArgv, labUp, readLab, writeLabTftpStandIns } from "../src/lab/lab.js";
import { packageRoot } from "../src/paths.js";
import type { ReconcileReport } from "../src/report/json.js";
import { run } from "../src/util/run.js";

const RUNS = 7;

async function cli(lab: NonNullable<ReturnType<typeof readLab>>, args: string[]) {
  const [file, ...rest] = labRunArgv(lab, ["node", join(packageRoot(), "dist", "src", "cli.js"), ...args]);
  const started = process.hrtime.bigint();
  const r = await run(file as string, rest);
  return { ...r, ms: Number(process.hrtime.bigint() - started) / 1e6 };
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
    let report: ReconcileReport | undefined;
    for (let i = 0; i < RUNS; i++) {
      const r = await cli(lab, ["reconcile", "-f", file, "--dry-run", "--detailed-exitcode", "--json"]);
      if (r.exitCode !== 0) throw new Error(`dry-run of the converged lab exited ${r.exitCode}: ${r.stderr}`);
      times.push(r.ms);
      report = JSON.parse(r.stdout) as ReconcileReport;
    }
    const connections = [...new Set(report?.results.map((r) => r.stats.connections))].join("/");
    const execs = [...new Set(report?.results.map((r) => r.stats.execs))].join("/");
    const identity = [...new Set(report?.plan.nodes.map((n) => n.identity))].join("/");
    console.log(
      [
        `${nodes} nodes:`,
        `lab up ${(upMs / 1000).toFixed(1)} s;`,
        `reconcile from factory ${(converge.ms / 1000).toFixed(2)} s;`,
        `dry-run of the converged lab: median ${(median(times) / 1000).toFixed(3)} s wall (min ${(Math.min(...times) / 1000).toFixed(3)}, max ${(Math.max(...times) / 1000).toFixed(3)}, ${RUNS} runs, CLI start included);`,
        `per node: ${connections} SSH connection attempt(s), ${execs} exec(s), logged in as ${identity}`,
      ].join(" "),
    );
  } finally {
    await labDown(name);
  }
}

for (const n of [3, 10]) await bench(n);
