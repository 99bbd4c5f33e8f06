// Run by the bench inside a lab's network: drift checks as watch mode makes them, over SSH sessions
// kept between ticks (SessionPool). The first tick logs in; the next ones each cost the nodes one
// exec. Prints JSON: per kept tick, the wall and controller CPU time, and the nodes' CPU time
// (read from their cgroups, their idle use over as long subtracted). Then, on the same sessions,
// each concern's share: observations with that concern alone, less those with none (the probe's
// start: the framing, the file table), per observation over the nodes.
// Usage: node kept-session.js MANIFEST TICKS   (the lab's environment: picotrader lab run)
import { reconcilers } from "../reconcilers/index.js";
import { transportFactory } from "../src/commands/options.js";
import { dryRun } from "../src/engine/reconcile.js";
import { requireLab } from "../src/lab/lab.js";
import { readInputs } from "../src/manifest/inputs.js";
import { loadManifest } from "../src/manifest/validate.js";
import { SessionPool } from "../src/transport/pool.js";
import type { Reconciler } from "../src/engine/types.js";
import { nodeCpuMsOf } from "./node-cpu.js";

const [file = "", ticksArg = "10"] = process.argv.slice(2);
const ticks = Number(ticksArg);
const lab = requireLab(process.env.PICOTRADER_LAB ?? "");
const manifest = loadManifest(file);
const inputs = readInputs(manifest, file, process.env);
const transport = (await transportFactory({ acceptNewHostKeys: false, hostFingerprint: [] }))(manifest);
const pool = new SessionPool();

const observe = (list: Reconciler[]) =>
  dryRun({ transport: pool.forRun(transport), manifest, inputs, reconcilers: list, concurrency: 10 });
const tick = async () => {
  const { plan } = await observe(reconcilers);
  const changes = plan.nodes.reduce((n, p) => n + p.changes.length, 0);
  if (changes !== 0 || plan.nodes.some((p) => p.state !== "converged"))
    throw new Error(`the lab is not converged: ${changes} change(s) planned`);
};

await tick(); // logs in
const wall: number[] = [];
const cpu: number[] = [];
const nodeCpuMs = await nodeCpuMsOf(lab, async () => {
  for (let i = 0; i < ticks; i++) {
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    await tick();
    const c = process.cpuUsage(c0);
    wall.push(Number(process.hrtime.bigint() - t0) / 1e6);
    cpu.push((c.user + c.system) / 1000);
  }
});

/**
 * Node CPU per observation with only `list` observed, after one unmeasured round (which fills the
 * node's unit cache: it is keyed by the units asked).
 */
const perObservation = async (list: Reconciler[]) => {
  await observe(list);
  const ms = await nodeCpuMsOf(lab, async () => {
    for (let i = 0; i < ticks; i++) await observe(list);
  });
  return ms / (ticks * lab.nodes.length);
};
const reused = pool.reused; // by the ticks
const start = await perObservation([]);
const byConcern: Record<string, number> = {};
// A concern alone: its "after" names concerns that are not observed here.
for (const r of reconcilers) byConcern[r.name] = (await perObservation([{ ...r, after: [] }])) - start;
await observe(reconcilers); // the unit cache as the whole manifest keeps it
await pool.closeAll();
console.log(
  JSON.stringify({
    ticks,
    reused,
    wallMs: wall,
    controllerCpuMs: cpu,
    nodeCpuMsPerObservation: nodeCpuMs / (ticks * lab.nodes.length),
    probeStartMs: start,
    byConcernMs: byConcern,
  }),
);
