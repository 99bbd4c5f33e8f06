// The database on real lab nodes: PostgreSQL 15 under Patroni, its state in the etcd cluster,
// behind HAProxy on the virtual IP. Converged from factory nodes (the second plan empty); a writer
// inserts through the virtual IP and records every acknowledged id while the primary's node loses
// its power: a new primary within ttl + loop_wait, no acknowledged id lost, the old primary back as
// a replica; all three nodes cut at once and started again: the cluster recovers by itself, with
// every acknowledged id; drift made by hand (config.yml edited, Patroni stopped, the dynamic
// configuration changed) found and repaired.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { labStart, labStop } from "../../src/lab/lab.js";
import type { ReconcileReport } from "../../src/report/json.js";
import { eventually, picotrader, sleep, sshAdmin, useLab } from "../helpers/lab.js";
import { tempDir } from "../helpers/temp.js";

const NAME = "tpg";
const lab = await useLab(t, NAME, 3);
const VIP = "10.88.0.200";
const SECRETS = {
  PICOTRADER_POSTGRES_PASSWORD: "lab-postgres-secret",
  PICOTRADER_POSTGRES_REPLICATION_PASSWORD: "lab-replication-secret",
};
/** Patroni's defaults, which the manifest keeps: a lost primary is replaced within ttl + loop_wait. */
const TTL = 30;
const LOOP_WAIT = 10;
/**
 * The writer goes through the virtual IP: HAProxy sends to the new primary once two checks 2 s apart
 * found it (the postgres backend's `inter 2s rise 2`), after the promotion itself.
 */
const HAPROXY_RISE_S = 2 * 2;

if (lab) {
  const dir = tempDir(t, "postgres");
  const file = join(dir, "lab.yaml");
  const pkiDir = join(dir, "pki");
  const made = await picotrader(lab, ["lab", "manifest", "--name", NAME, "-o", join(dir, "full.yaml")]);
  if (made.exitCode !== 0) throw new Error(`lab manifest: ${made.stderr}`);
  const full = readFileSync(join(dir, "full.yaml"), "utf8");
  const roles = ["control-plane", "control-plane", "worker"];
  writeFileSync(
    file,
    `${full.slice(0, full.indexOf("# The runtime"))}kernel: {}
keepalived: {}
haproxy: {}
etcd: {}
postgres: {}
nodes:
${lab.nodes.map((n, i) => `  - name: ${n.name}\n    address: ${n.address}\n    roles: [${roles[i]}, etcd, database]`).join("\n")}
`,
  );
  const env = { PICOTRADER_PKI: pkiDir, ...SECRETS };
  const run = (...args: string[]) => picotrader(lab, ["reconcile", "-f", file, ...args], env);
  const dryRun = async () => {
    const r = await run("--dry-run", "--detailed-exitcode", "--json");
    return { exitCode: r.exitCode, report: JSON.parse(r.stdout) as ReconcileReport };
  };
  const psql = (node: string, sql: string, port = 5432) =>
    sshAdmin(
      lab,
      node,
      `PGPASSWORD=${SECRETS.PICOTRADER_POSTGRES_PASSWORD} PGCONNECT_TIMEOUT=3 psql -h ${VIP} -p ${port} -U postgres -qAtc "${sql}"`,
    );
  /** Patroni's members as `patronictl list` prints them from `node`: name -> role (and state). */
  const members = async (node: string) => {
    const r = await sshAdmin(lab, node, "patronictl -c /etc/patroni/config.yml list -f json");
    try {
      return Object.fromEntries(
        (JSON.parse(r.stdout) as { Member: string; Role: string; State: string }[]).map((m) => [
          m.Member,
          `${m.Role} ${m.State}`,
        ]),
      );
    } catch {
      return {};
    }
  };
  const leaderOf = (m: Record<string, string>) =>
    Object.entries(m).find(([, v]) => /^Leader running$/.test(v))?.[0];

  /**
   * Inserts ids 1, 2, ... through the virtual IP from `node`, one connection each, every 100 ms,
   * and appends each acknowledged id with its time to /tmp/acked.
   */
  const startWriter = async (node: string) => {
    await psql(node, "create table if not exists acked (id int primary key)");
    const loop = `export PGPASSWORD=${SECRETS.PICOTRADER_POSTGRES_PASSWORD} PGCONNECT_TIMEOUT=2
rm -f /tmp/writer.stop /tmp/acked; i=$(psql -h ${VIP} -U postgres -qAtc 'select coalesce(max(id), 0) from acked')
while [ ! -f /tmp/writer.stop ]; do
  i=$((i+1))
  if timeout 5 psql -h ${VIP} -U postgres -qAtc "insert into acked values ($i)" >/dev/null 2>&1; then echo "$i $(date +%s.%N)" >> /tmp/acked; fi
  sleep 0.1
done`;
    await sshAdmin(
      lab,
      node,
      `cat > /tmp/writer.sh <<'EOF'\n${loop}\nEOF\nnohup sh /tmp/writer.sh >/dev/null 2>&1 &`,
    );
    return {
      stop: async () => {
        await sshAdmin(lab, node, "touch /tmp/writer.stop; sleep 1");
        return (await sshAdmin(lab, node, "cat /tmp/acked")).stdout
          .trim()
          .split("\n")
          .filter(Boolean)
          .map((l) => l.split(" ").map(Number) as [number, number]);
      },
    };
  };
  const missing = async (node: string, ids: number[]) => {
    const r = await psql(node, `select count(*) from acked where id in (${ids.join(",")})`);
    return ids.length - Number(r.stdout.trim());
  };

  t.test(
    "three factory nodes converge: a primary, a synchronous standby, a replica; the second plan is empty",
    async (t) => {
      const r = await run("--yes");
      t.equal(r.exitCode, 0, r.stdout + r.stderr);
      t.notMatch(r.stdout + r.stderr, new RegExp(Object.values(SECRETS).join("|")), "no password is printed");
      t.equal((await dryRun()).exitCode, 0, "the second run plans nothing");
      const m = await members("node2");
      t.strictSame(
        Object.values(m).sort(),
        ["Leader running", "Replica running", "Sync Standby running"].sort(),
      );
      t.equal(
        (await psql("node3", "select pg_is_in_recovery()")).stdout.trim(),
        "f",
        "the virtual IP's 5432 is the primary",
      );
      t.equal((await psql("node3", "select pg_is_in_recovery()", 5433)).stdout.trim(), "t", "5433 a replica");
      const conf = await sshAdmin(lab, "node1", "stat -c '%a %U' /etc/patroni/config.yml");
      t.equal(conf.stdout.trim(), "600 postgres", "the passwords' file is 0600, postgres's");
    },
  );

  t.test(
    "the primary's node loses its power: a new primary within ttl + loop_wait, no acknowledged id lost",
    async (t) => {
      const old = leaderOf(await members("node3"));
      if (!old) throw new Error("no leader");
      const writerNode = lab.nodes.map((n) => n.name).find((n) => n !== old) as string;
      const writer = await startWriter(writerNode);
      await sleep(3000);
      const cutAt = Date.now() / 1000;
      await labStop(NAME, old, { powerCut: true });
      const after = await eventually(
        async () => leaderOf(await members(writerNode)),
        (l) => l !== undefined && l !== old,
        (TTL + LOOP_WAIT + 20) * 1000,
      );
      t.not(after, undefined, "a new primary");
      // Until the writer has an insert acknowledged again (through the new primary), a minute at most.
      await eventually(
        async () =>
          Number((await sshAdmin(lab, writerNode, "tail -n 1 /tmp/acked | cut -d' ' -f2")).stdout.trim()),
        (lastAck) => lastAck > cutAt + 1,
        60_000,
      );
      await sleep(1000);
      const acked = await writer.stop();
      // The failover: the longest time without an acknowledged insert, from just before the cut.
      const times = acked.map(([, at]) => at).filter((at) => at >= cutAt - 2);
      const failoverS = Math.max(...times.slice(1).map((at, i) => at - (times[i] as number)));
      t.ok(
        times.some((at) => at > cutAt + 1),
        "writes go on through the virtual IP",
      );
      t.ok(
        failoverS <= TTL + LOOP_WAIT + HAPROXY_RISE_S,
        `no acknowledged insert for ${failoverS.toFixed(1)} s at most (ttl + loop_wait + HAProxy's rise)`,
      );
      t.comment(
        `failover: ${failoverS.toFixed(1)} s without an acknowledged insert; ${acked.length} acknowledged`,
      );
      t.equal(
        await missing(
          writerNode,
          acked.map(([id]) => id),
        ),
        0,
        "every acknowledged id is there",
      );

      await labStart(NAME, old);
      const back = await eventually(
        () => members(writerNode),
        (m) => /^(Replica|Sync Standby) running$/.test(m[old] ?? ""),
        120_000,
      );
      t.match(back[old], /^(Replica|Sync Standby) running$/, `${old} is back, as a replica`);
      t.equal((await dryRun()).exitCode, 0, "nothing to repair");
    },
  );

  t.test(
    "all three nodes lose their power at once: the cluster recovers by itself, every id kept",
    async (t) => {
      const writer = await startWriter("node1");
      await sleep(3000);
      const acked = await writer.stop();
      const cutAt = Date.now();
      await Promise.all(lab.nodes.map((n) => labStop(NAME, n.name, { powerCut: true })));
      await Promise.all(lab.nodes.map((n) => labStart(NAME, n.name)));
      const m = await eventually(
        () => members("node1"),
        (x) => leaderOf(x) !== undefined,
        180_000,
        1000,
      );
      t.ok(leaderOf(m), "a primary again, with no command of ours");
      const ready = await eventually(
        () => psql("node2", "select 1"),
        (r) => r.stdout.trim() === "1",
        60_000,
        1000,
      );
      t.equal(ready.stdout.trim(), "1", "the virtual IP answers");
      t.comment(`recovered ${((Date.now() - cutAt) / 1000).toFixed(1)} s after the cut (boot included)`);
      t.equal(
        await missing(
          "node2",
          acked.map(([id]) => id),
        ),
        0,
        `all ${acked.length} acknowledged ids are there`,
      );
    },
  );

  t.test("drift made by hand is found and repaired", async (t) => {
    await sshAdmin(
      lab,
      "node2",
      "sed -i 's|^  listen: 0.0.0.0:8008|  listen: 0.0.0.0:8009|' /etc/patroni/config.yml",
    );
    await sshAdmin(lab, "node3", "systemctl stop patroni");
    await sshAdmin(
      lab,
      "node1",
      "patronictl -c /etc/patroni/config.yml edit-config --force -s ttl=45 >/dev/null",
    );
    const drift = await dryRun();
    t.equal(drift.exitCode, 2, "the drift is pending");
    const summaries = drift.report.plan.nodes
      .flatMap((n) => n.changes.map((c) => `${n.node}: ${c.summary}`))
      .join("\n");
    t.match(summaries, /node2: rewrite \/etc\/patroni\/config\.yml; reload Patroni/);
    t.match(summaries, /node3: start Patroni on node3/);
    t.match(summaries, /node1: set Patroni's dynamic configuration: ttl/);
    const r = await run("--yes");
    t.equal(r.exitCode, 0, r.stdout + r.stderr);
    t.equal((await dryRun()).exitCode, 0, "repaired: nothing pending");
    const m = await eventually(
      () => members("node1"),
      (x) => Object.values(x).filter((v) => / running$/.test(v)).length === 3,
      60_000,
    );
    t.equal(Object.keys(m).length, 3, "three members again");
  });

  t.test(
    "a setting that needs a restart: set through Patroni, the restarts rolled (replicas first), no acknowledged id lost",
    async (t) => {
      const restartFile = join(dir, "restart.yaml");
      writeFileSync(
        restartFile,
        readFileSync(file, "utf8").replace("postgres: {}", "postgres: { sharedBuffersMiB: 128 }"),
      );
      const run = (...args: string[]) => picotrader(lab, ["reconcile", "-f", restartFile, ...args], env);
      const plan = async () =>
        (JSON.parse((await run("--dry-run", "--json")).stdout) as ReconcileReport).plan.nodes.flatMap((n) =>
          n.changes.map((c) => `${n.node}: ${c.summary}`),
        );
      const writer = await startWriter("node3");
      const set = await run("--yes");
      t.equal(set.exitCode, 0, set.stdout + set.stderr);
      t.match(
        set.stdout,
        /set Patroni's dynamic configuration: postgresql\.parameters\.shared_buffers; then restart the members one at a time/,
      );
      t.strictSame(await plan(), [], "nothing pending after the roll");
      t.equal((await psql("node3", "show shared_buffers")).stdout.trim(), "128MB");
      const acked = await writer.stop();
      t.ok(acked.length > 10, `writes went on (${acked.length} acknowledged)`);
      t.equal(
        await missing(
          "node3",
          acked.map(([id]) => id),
        ),
        0,
        "every acknowledged id is there",
      );
    },
  );
}
