// Run by the bench inside a lab's network: drift checks as watch mode makes them, over SSH sessions
// kept between ticks (SessionPool). The first tick logs in; the next ones each cost the nodes one
// exec. Prints JSON: per kept tick, the wall and controller CPU time, and the nodes' CPU time
// (read from their cgroups, their idle use over as long subtracted).
// Usage: node kept-session.js MANIFEST TICKS   (the lab's environment: picotrader lab run)
import { reconcilers } from "../reconcilers/index.js";
import { transportFactory } from "../src/commands/options.js";
import { dryRun } from "../src/engine/reconcile.js";
import { requireLab } from "../src/lab/lab.js";
import { readInputs } from "../src/manifest/inputs.js";
import { loadManifest } from "../src/manifest/validate.js";
import { SessionPool } from "../src/transport/pool.js";
import { nodeCpuMsOf } from "./node-cpu.js";

const [file = "", ticksArg = "10"] = process.argv.slice(2);
const ticks = Number(ticksArg);
const lab = requireLab(process.env.PICOTRADER_LAB ?? "");
const manifest = loadManifest(file);
const inputs = readInputs(manifest, file, process.env);
const transport = (await transportFactory({ acceptNewHostKeys: false, hostFingerprint: [] }))(manifest);
const pool = new SessionPool();

const tick = async () => {
  const { plan } = await dryRun({
    transport: pool.forRun(transport),
    manifest,
    inputs,
    reconcilers,
    concurrency: 10,
  });
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
await pool.closeAll();
console.log(
  JSON.stringify({
    ticks,
    reused: pool.reused,
    wallMs: wall,
    controllerCpuMs: cpu,
    nodeCpuMsPerObservation: nodeCpuMs / (ticks * lab.nodes.length),
  }),
);
