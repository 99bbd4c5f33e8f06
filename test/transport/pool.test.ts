// The sessions watch mode keeps between runs: reused once per run, fresh for anything else, dropped
// when dead or when the node was re-imaged, all closed at the end.
import t from "tap";
import { SessionPool, type PoolableSession } from "../../src/transport/pool.js";
import type { Transport } from "../../src/transport/session.js";

function counting(user = "sysman"): Transport & { made: PoolableSession[] } {
  const made: PoolableSession[] = [];
  return {
    made,
    connect: (node, as) => {
      let open = true;
      const s: PoolableSession = {
        node: node.name,
        identity: `${as?.user ?? user} (key)`,
        user: as?.user ?? user,
        stats: { connections: 1, execs: 0 },
        exec: (command) => Promise.resolve({ command, exitCode: 0, stdout: "", stderr: "", durationMs: 0 }),
        close: () => {
          open = false;
          return Promise.resolve();
        },
        alive: () => open,
      };
      made.push(s);
      return Promise.resolve(s);
    },
  };
}

const node1 = { name: "node1", address: "10.0.0.11" };

t.test("a kept session serves the next run; a second connect in one run is fresh", async (t) => {
  const pool = new SessionPool();
  const inner = counting();
  const first = await pool.forRun(inner).connect(node1);
  await first.close();
  t.equal(inner.made.length, 1);
  t.ok(inner.made[0]?.alive(), "closing lends it back: still open");
  const run2 = pool.forRun(inner);
  const again = await run2.connect(node1);
  t.equal(inner.made.length, 1, "the next run reuses it: no new login");
  t.equal(pool.reused, 1);
  const afterReboot = await run2.connect(node1);
  t.equal(inner.made.length, 2, "within one run, a second connect (after a reboot) is a new login");
  const proof = await run2.connect(node1, { user: "sysman" });
  t.equal(inner.made.length, 3, "the access proof always logs in afresh");
  await proof.close();
  t.notOk(inner.made[2]?.alive(), "and is closed for real");
  await again.close();
  await afterReboot.close();
  t.notOk(inner.made[0]?.alive(), "the session it replaces is closed");
  t.ok(inner.made[1]?.alive(), "the newest is kept");
  await pool.closeAll();
  t.notOk(inner.made[1]?.alive(), "closeAll closes what is kept");
});

t.test("a dead session is replaced; a re-imaged node's session is dropped", async (t) => {
  const pool = new SessionPool();
  const inner = counting();
  await (await pool.forRun(inner).connect(node1)).close();
  await inner.made[0]?.close(); // the connection died between runs
  await (await pool.forRun(inner).connect(node1)).close();
  t.equal(inner.made.length, 2, "a new login replaced the dead session");
  t.equal(pool.reused, 0);
  const run = pool.forRun(inner);
  run.forgetHostKey?.(node1);
  t.notOk(inner.made[1]?.alive(), "forgetting the host key closes the kept session");
  await (await run.connect(node1)).close();
  t.equal(inner.made.length, 3);
});

t.test(
  "a root login (first contact) is never kept: root login goes off once the node converges",
  async (t) => {
    const pool = new SessionPool();
    const inner = counting("root");
    await (await pool.forRun(inner).connect(node1)).close();
    t.notOk(inner.made[0]?.alive(), "closed at the end of its run");
    await (await pool.forRun(inner).connect(node1)).close();
    t.equal(inner.made.length, 2, "the next run logs in again");
  },
);
