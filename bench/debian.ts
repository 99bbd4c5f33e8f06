// The Debian packages the bench needs only when it runs (the peer, sysbench): installed on demand.
import { run, runOk } from "../src/util/run.js";

/** Installs `packages` with apt when `command` is missing, calling `say` first. */
export async function ensureCommand(
  command: string,
  packages: string[],
  say: () => void = () => {},
): Promise<void> {
  if ((await run("sh", ["-c", `command -v ${command}`])).exitCode === 0) return;
  say();
  await runOk("apt-get", ["install", "-y", "-q", "--no-install-recommends", ...packages], {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
}
