// The CPU time a lab's nodes spend on some work: read from their cgroups, with their own background
// (systemd, dockerd, keepalived) over as long, with nothing observing, subtracted.
import { readNodeCpuUsec, type LabState } from "../src/lab/lab.js";

/** CPU time all the lab's nodes have used, in microseconds. */
function labCpuUsec(lab: LabState): number {
  return lab.nodes.reduce((sum, n) => sum + (readNodeCpuUsec(lab, n.name) ?? NaN), 0);
}

/** Runs `work`, then idles as long: the nodes' CPU time for `work`, in ms, idle use subtracted. */
export async function nodeCpuMsOf(lab: LabState, work: () => Promise<void>): Promise<number> {
  const busyFrom = labCpuUsec(lab);
  const started = Date.now();
  await work();
  const busy = labCpuUsec(lab) - busyFrom;
  const elapsed = Date.now() - started;
  const idleFrom = labCpuUsec(lab);
  await new Promise((r) => setTimeout(r, elapsed));
  return (busy - (labCpuUsec(lab) - idleFrom)) / 1000;
}
