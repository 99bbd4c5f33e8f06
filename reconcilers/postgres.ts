// Owns: PostgreSQL 15 under Patroni on each node with the role database: /etc/patroni/config.yml
// (0600, it holds the passwords), Patroni's copies of the etcd CA's certificate and the node's own
// under /etc/patroni/pki, the data directory /var/lib/postgresql/15/patroni, the patroni service,
// and the cluster's dynamic configuration in etcd (set through the first database node). Runs:
// systemctl, pg_dropcluster (the package's own "main" cluster, once), Patroni's REST API on
// 127.0.0.1 (changes through python3; the probe reads it with bash's /dev/tcp, a process that costs
// a small board far less than a python3 start). Leaves alone: the packages, the firewall and
// HAProxy (their concerns), etcd itself, and the databases and roles inside PostgreSQL beyond the
// two Patroni makes.
import type { ChangeDraft, Inputs, Manifest, NodeSpec, Reconciler, Step } from "../src/engine/types.js";
import { PicoError } from "../src/errors.js";
import { DEFAULT_POSTGRES_PASSWORD_ENV, DEFAULT_REPLICATION_PASSWORD_ENV } from "../src/manifest/defaults.js";
import { shellQuote } from "../src/transport/quote.js";
import {
  buildCertificateDigestProbe,
  certificateDigests,
  certificateSteps,
  parseCertificateDigests,
  staleCertificates,
  type CertificateDigests,
} from "./lib/certificates.js";
import { retryEachSecond } from "./lib/retry.js";
import { maskSecret } from "./lib/secret.js";
import { normaliseConfigLines } from "./lib/text.js";

const CONFIG = "/etc/patroni/config.yml";
const PKI = "/etc/patroni/pki";
const DATA_DIR = "/var/lib/postgresql/15/patroni";
const BIN_DIR = "/usr/lib/postgresql/15/bin";

/** The part of Patroni's dynamic configuration (kept in etcd) that the manifest decides. */
export interface DynamicConfig {
  ttl: number;
  loop_wait: number;
  retry_timeout: number;
  maximum_lag_on_failover: number;
  synchronous_mode: boolean;
  postgresql: { use_pg_rewind: boolean; parameters: Record<string, string | number> };
}

export interface PostgresDesired {
  name: string;
  restPort: number;
  /** config.yml, passwords in it; `lines` is what is compared (passwords masked). */
  config: string;
  lines: string[];
  ca: string;
  cert: string;
  key: string;
  digests: CertificateDigests;
  dynamic: DynamicConfig;
  /** The first database node sets the dynamic configuration (one writer, not one per node). */
  setsDynamic: boolean;
}

/** A member of the Patroni cluster as its REST API lists it. */
export interface PatroniMember {
  name: string;
  role: string;
  state: string;
  timeline?: number;
  lag?: number | string;
}

export interface PostgresObserved {
  config?: string[];
  digests: Partial<CertificateDigests>;
  active: boolean;
  enabled: boolean;
  /** Patroni's data directory holds a cluster. */
  dataDir: boolean;
  /** The package's own "main" cluster exists (made at its install). */
  mainCluster: boolean;
  /** This member, from /patroni; undefined when the REST API does not answer. */
  member?: { role: string; state: string; timeline?: number; pendingRestart: boolean };
  /**
   * The cluster's members, from /cluster: asked of the first database node only (each member
   * answers the same view; Patroni's REST API costs a small board's Python some CPU per call).
   */
  members?: PatroniMember[];
  /** The dynamic configuration, from /config (the keys the manifest decides): the first database node only. */
  dynamic?: Partial<DynamicConfig>;
}

/** A password as YAML writes it: JSON's double-quoted form, which YAML reads the same. */
const yamlString = (s: string) => JSON.stringify(s);

/** Reads a password from the run's secrets: printable ASCII only, so that no file or command is bent by it. */
function password(inputs: Inputs, variable: string): string {
  const value = inputs.secrets[variable];
  if (value === undefined) throw new PicoError(`postgres: the secret ${variable} was not read`);
  if (!/^[\x20-\x7e]{8,128}$/.test(value))
    throw new PicoError(`postgres: ${variable} must be 8 to 128 printable ASCII characters`);
  return value;
}

/** The dynamic configuration the manifest asks for. Pure. */
export function dynamicConfig(m: Manifest): DynamicConfig {
  const p = m.postgres ?? {};
  return {
    ttl: p.ttl ?? 30,
    loop_wait: p.loopWait ?? 10,
    retry_timeout: p.retryTimeout ?? 10,
    // A replica more than 1 MiB behind is never promoted.
    maximum_lag_on_failover: 1048576,
    synchronous_mode: p.synchronousMode ?? true,
    postgresql: {
      use_pg_rewind: true,
      parameters: {
        shared_buffers: `${p.sharedBuffersMiB ?? 256}MB`,
        max_connections: p.maxConnections ?? 50,
        // pg_rewind needs it (or data checksums, which initdb also turns on).
        wal_log_hints: "on",
        password_encryption: "scram-sha-256",
      },
    },
  };
}

/** config.yml for a database node. Pure. */
export function buildPatroniConfig(
  node: NodeSpec,
  m: Manifest,
  superuser: string,
  replication: string,
): string {
  const p = m.postgres ?? {};
  const port = p.port ?? 5432;
  const rest = p.restApiPort ?? 8008;
  const etcdHosts = m.nodes
    .filter((n) => n.roles.includes("etcd"))
    .map((n) => `${n.address}:${m.etcd?.clientPort ?? 2379}`);
  const databases = m.nodes.filter((n) => n.roles.includes("database"));
  const dynamic = dynamicConfig(m);
  return [
    "# Managed by picotrader from cluster.yaml: this node's PostgreSQL, run by Patroni.",
    `scope: ${m.cluster.name}-postgres`,
    "namespace: /picotrader/",
    `name: ${node.name}`,
    "restapi:",
    `  listen: 0.0.0.0:${rest}`,
    `  connect_address: ${node.address}:${rest}`,
    "etcd3:",
    "  protocol: https",
    `  hosts: ${JSON.stringify(etcdHosts)}`,
    `  cacert: ${PKI}/ca.crt`,
    `  cert: ${PKI}/node.crt`,
    `  key: ${PKI}/node.key`,
    "bootstrap:",
    "  dcs:",
    `    ttl: ${dynamic.ttl}`,
    `    loop_wait: ${dynamic.loop_wait}`,
    `    retry_timeout: ${dynamic.retry_timeout}`,
    `    maximum_lag_on_failover: ${dynamic.maximum_lag_on_failover}`,
    `    synchronous_mode: ${dynamic.synchronous_mode}`,
    "    postgresql:",
    "      use_pg_rewind: true",
    `      parameters: ${JSON.stringify(dynamic.postgresql.parameters)}`,
    "  initdb: [{encoding: UTF8}, data-checksums]",
    "postgresql:",
    `  listen: 127.0.0.1,${node.address}:${port}`,
    `  connect_address: ${node.address}:${port}`,
    `  data_dir: ${DATA_DIR}`,
    `  bin_dir: ${BIN_DIR}`,
    "  pgpass: /var/lib/postgresql/.pgpass_patroni",
    "  authentication:",
    "    superuser:",
    "      username: postgres",
    `      password: ${yamlString(superuser)}`,
    "    replication:",
    "      username: replicator",
    `      password: ${yamlString(replication)}`,
    "  pg_hba:",
    "    - local all all peer",
    "    - host all all 127.0.0.1/32 scram-sha-256",
    // Patroni reads a stopped member's timeline over a local replication connection.
    "    - host replication replicator 127.0.0.1/32 scram-sha-256",
    ...databases.map((n) => `    - host replication replicator ${n.address}/32 scram-sha-256`),
    `    - host all all ${m.cluster.subnet} scram-sha-256`,
    "",
  ].join("\n");
}

/**
 * Meaningful config lines with each password replaced by its keyed stand-in, without the bootstrap
 * section: Patroni reads it only when it initialises a cluster, and the dynamic configuration it
 * seeds is compared in etcd itself (so a changed setting rewrites no file). Pure (within one run).
 */
export function maskedPatroniLines(text: string): string[] {
  const all = text.split("\n");
  const start = all.findIndex((l) => /^bootstrap:/.test(l));
  const end = start < 0 ? -1 : all.findIndex((l, i) => i > start && /^\S/.test(l));
  const kept = start < 0 ? all : [...all.slice(0, start), ...(end < 0 ? [] : all.slice(end))];
  return normaliseConfigLines(kept.join("\n")).map((line) => {
    const m = /^password: (.*)$/.exec(line);
    if (!m) return line;
    let value = m[1] as string;
    try {
      value = JSON.parse(value) as string;
    } catch {
      // Not ours (edited by hand): masked as it stands.
    }
    return `password: ${maskSecret(value)}`;
  });
}

/** Polls Patroni's /health (200 once PostgreSQL runs) on this node, up to `seconds`. */
function waitRunning(rest: number, seconds: number): string {
  return retryEachSecond({
    command: `python3 -c 'import sys,urllib.request; urllib.request.urlopen("http://127.0.0.1:${rest}/health", timeout=2)' 2>/dev/null`,
    tries: seconds,
    failure: `postgres: Patroni's member is not running ${seconds} s after the change:`,
    diagnose: "journalctl -u patroni -n 15 --no-pager",
  });
}

/** A python3 call of Patroni's REST API on this node: METHOD path, with a JSON body. */
function restCall(rest: number, method: string, path: string, body: unknown): string {
  const script = `import json,sys,urllib.request
r = urllib.request.Request("http://127.0.0.1:${rest}${path}", data=sys.stdin.buffer.read(), method="${method}", headers={"Content-Type": "application/json"})
print(urllib.request.urlopen(r, timeout=30).read().decode())`;
  return `printf %s ${shellQuote(JSON.stringify(body))} | python3 -c ${shellQuote(script)}`;
}

/**
 * Restarts this member's PostgreSQL for its pending settings, one node at a time (the rolling
 * phase): a primary first hands over to a standby (Patroni picks the synchronous one) and waits
 * until it is a replica, so that writes pause for a switchover, never for a restart. Pure.
 */
function restartPending(name: string, rest: number): string {
  // /patroni answers 503 with the same body while PostgreSQL is not running: read either.
  const role = `python3 -c '
import json, urllib.request, urllib.error
try:
    body = urllib.request.urlopen("http://127.0.0.1:${rest}/patroni", timeout=3).read()
except urllib.error.HTTPError as e:
    body = e.read()
print(json.loads(body).get("role", ""))'`;
  return `r=$(${role}) || exit 1
if [ "$r" != replica ]; then
  ${restCall(rest, "POST", "/switchover", { leader: name })} >/dev/null || exit 1
  ${retryEachSecond({
    command: `[ "$(${role} 2>/dev/null)" = replica ]`,
    tries: 60,
    failure: `postgres: ${name} is still the primary 60 s after the switchover`,
  })}
fi
${restCall(rest, "POST", "/restart", { restart_pending: true })} >/dev/null || exit 1
${waitRunning(rest, 120)}`;
}

/** PostgreSQL parameters of the manifest that take effect only at a restart. */
const RESTART_PARAMETERS = ["shared_buffers", "max_connections"];

/**
 * Rolls the restarts a new setting waits for, from this node through each member's REST API:
 * first Patroni marks them pending (its next loop), then each replica restarts, one at a time and
 * running again before the next, then the primary hands over to a standby and restarts last.
 */
function rollRestarts(rest: number): string {
  const script = `import json, sys, time, urllib.request, urllib.error
def call(url, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        r = urllib.request.urlopen(req, timeout=90)
        return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
def members():
    return json.loads(call("http://127.0.0.1:${rest}/cluster")[1])["members"]
def until(what, ok, seconds):
    for _ in range(seconds):
        if ok():
            return
        time.sleep(1)
    sys.exit("postgres: " + what)
def pending():
    return [m for m in members() if m.get("pending_restart")]
until("no member marked a restart pending 30 s after the change", lambda: pending(), 30)
# Each member applies the change in its own loop: a member restarted before it did would keep the
# old value. Waited for every running member (a stopped one restarts with the new value anyway).
running = lambda: [m for m in members() if m["state"] in ("running", "streaming")]
for _ in range(30):
    if all(m.get("pending_restart") for m in running()):
        break
    time.sleep(1)
def restart(name):
    m = next(x for x in members() if x["name"] == name)
    if not m.get("pending_restart"):
        return
    if m["role"] == "leader":
        # Refused while the restarted standbys are not synchronous again yet: asked again.
        for _ in range(60):
            status, body = call("http://127.0.0.1:${rest}/switchover", "POST", {"leader": name})
            if status == 200:
                break
            time.sleep(1)
        if status != 200:
            sys.exit("postgres: the switchover from " + name + " was refused: " + body)
        until(name + " is not a running replica 60 s after the switchover", lambda: any(x["name"] == name and x["role"] in ("replica", "sync_standby") and x["state"] in ("running", "streaming") for x in members()), 60)
        m = next(x for x in members() if x["name"] == name)
        # Its demotion restarted it already, with the new settings.
        if not m.get("pending_restart"):
            print("restarted " + name + " (by its demotion)")
            return
    # Patroni refuses (503) while a demotion or another restart is still in progress: asked again.
    for _ in range(30):
        status, body = call(m["api_url"].rsplit("/", 1)[0] + "/restart", "POST", {"restart_pending": True})
        if status != 503:
            break
        time.sleep(1)
    if status != 200:
        sys.exit("postgres: the restart of " + name + " was refused: " + body)
    until(name + " is not running 120 s after its restart", lambda: any(x["name"] == name and x["state"] in ("running", "streaming") and not x.get("pending_restart") for x in members()), 120)
    print("restarted " + name)
# Replicas first, the leader last; a member marked again meanwhile (its demotion ran before it
# applied the change) is restarted in the next pass.
for _ in range(3):
    left = pending()
    if not left:
        break
    for name in [m["name"] for m in sorted(left, key=lambda m: m["role"] == "leader")]:
        restart(name)
left = pending()
if left:
    sys.exit("postgres: a restart is still pending after three passes: " + ", ".join(m["name"] for m in left))`;
  return `python3 -c ${shellQuote(script)}`;
}

/** The keys of the dynamic configuration whose observed value differs from the desired one. Pure. */
export function dynamicDrift(d: DynamicConfig, o: Partial<DynamicConfig>): string[] {
  const drift: string[] = [];
  for (const key of [
    "ttl",
    "loop_wait",
    "retry_timeout",
    "maximum_lag_on_failover",
    "synchronous_mode",
  ] as const)
    if (o[key] !== d[key]) drift.push(key);
  if (o.postgresql?.use_pg_rewind !== d.postgresql.use_pg_rewind) drift.push("postgresql.use_pg_rewind");
  for (const [k, v] of Object.entries(d.postgresql.parameters))
    if (String(o.postgresql?.parameters?.[k]) !== String(v)) drift.push(`postgresql.parameters.${k}`);
  return drift;
}

export const postgres: Reconciler<PostgresDesired, PostgresObserved> = {
  name: "postgres",
  rolling: true,
  after: ["packages", "firewall", "hosts", "etcd"],
  applies: (node, m) => m.postgres !== undefined && node.roles.includes("database"),
  desired(node, m, inputs) {
    const own = inputs.etcdPki?.nodes[node.name];
    if (!inputs.etcdPki || !own) throw new PicoError(`postgres: no certificate was made for ${node.name}`);
    const config = buildPatroniConfig(
      node,
      m,
      password(inputs, m.postgres?.passwordEnv ?? DEFAULT_POSTGRES_PASSWORD_ENV),
      password(inputs, m.postgres?.replicationPasswordEnv ?? DEFAULT_REPLICATION_PASSWORD_ENV),
    );
    const ca = inputs.etcdPki.ca;
    return {
      name: node.name,
      restPort: m.postgres?.restApiPort ?? 8008,
      config,
      lines: maskedPatroniLines(config),
      ca,
      cert: own.cert,
      key: own.key,
      digests: certificateDigests({ ca, ...own }),
      dynamic: dynamicConfig(m),
      setsDynamic: m.nodes.find((n) => n.roles.includes("database"))?.name === node.name,
    };
  },
  units: ["patroni"],
  files: [CONFIG],
  probe: (d) => `unit_state patroni; printf 'active=%s\\nenabled=%s\\n' "$unit_active" "$unit_enabled"
${buildCertificateDigestProbe(PKI)}
[ -f ${DATA_DIR}/PG_VERSION ] && echo data=yes
[ -d /etc/postgresql/15/main ] && echo main-cluster=yes
[ "$unit_active" = active ] && bash -s <<'PICOTRADER_REST' 2>/dev/null
for p in patroni${d.setsDynamic ? " cluster config" : ""}; do
  exec 5<>/dev/tcp/127.0.0.1/${d.restPort} || continue
  printf 'GET /%s HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n' "$p" >&5
  body= head=1
  while IFS= read -r -t 2 l <&5 || [ -n "$l" ]; do
    if [ -z "$head" ]; then body=$body$l; elif [ "$l" = $'\\r' ]; then head=; fi
    l=
  done
  exec 5<&-
  case $body in "{"*) printf 'rest-%s %s\\n' "$p" "$body" ;; esac
done
PICOTRADER_REST
if [ -f ${CONFIG} ]; then echo '--- config'; file_text ${CONFIG}; fi
true`,
  parse(output) {
    const [head = "", config] = output.split(/^--- config\n/m);
    const lines = head.split("\n");
    const digests = parseCertificateDigests(lines);
    const rest = (name: string): Record<string, unknown> | undefined => {
      const line = lines.find((l) => l.startsWith(`rest-${name} `));
      return line ? (JSON.parse(line.slice(name.length + 6)) as Record<string, unknown>) : undefined;
    };
    const self = rest("patroni");
    const cluster = rest("cluster");
    const dynamic = rest("config");
    const members = Array.isArray(cluster?.members)
      ? (cluster.members as Record<string, unknown>[]).map((x) => ({
          name: String(x.name),
          role: String(x.role),
          state: String(x.state),
          ...(typeof x.timeline === "number" ? { timeline: x.timeline } : {}),
          ...(typeof x.lag === "number" || typeof x.lag === "string" ? { lag: x.lag } : {}),
        }))
      : undefined;
    return {
      ...(config === undefined ? {} : { config: maskedPatroniLines(config) }),
      digests,
      active: lines.includes("active=active"),
      enabled: lines.includes("enabled=enabled"),
      dataDir: lines.includes("data=yes"),
      mainCluster: lines.includes("main-cluster=yes"),
      ...(self
        ? {
            member: {
              role: String(self.role),
              state: String(self.state),
              ...(typeof self.timeline === "number" ? { timeline: self.timeline } : {}),
              pendingRestart: self.pending_restart === true,
            },
          }
        : {}),
      ...(members ? { members } : {}),
      ...(dynamic ? { dynamic: dynamic } : {}),
    };
  },
  plan(d, o) {
    const changes: ChangeDraft[] = [];
    const files = certificateSteps(PKI, d, "postgres");
    const staleFiles = staleCertificates(d.digests, o.digests);
    const configSame = o.config !== undefined && o.config.join("\n") === d.lines.join("\n");
    const writeConfig: Step = {
      kind: "write",
      path: CONFIG,
      content: d.config,
      mode: "0600",
      owner: "postgres",
      group: "postgres",
      sensitive: true,
    };
    if (!o.dataDir && !o.active) {
      // A member to make: Patroni initialises the cluster where etcd has none, else copies the primary.
      // The package's install (in this run perhaps, after these facts) made a "main" cluster on
      // the same port: dropped, on a node Patroni has never run on.
      const dropMain = o.config === undefined || o.mainCluster;
      return [
        {
          summary: `start PostgreSQL under Patroni on ${d.name} (it initialises the cluster, or joins it as a replica)${dropMain ? "; drop the package's own empty cluster 15/main" : ""}`,
          action: "create",
          before: { member: false },
          after: { member: d.name },
          steps: [
            ...staleFiles.map((k) => files[k]),
            writeConfig,
            ...(dropMain
              ? [
                  {
                    kind: "run" as const,
                    command: "if [ -d /etc/postgresql/15/main ]; then pg_dropcluster --stop 15 main; fi",
                  },
                ]
              : []),
            {
              kind: "run",
              command: `systemctl enable -q patroni && systemctl start patroni\n${waitRunning(d.restPort, 180)}`,
            },
          ],
        },
      ];
    }
    if (staleFiles.length > 0 || !configSame) {
      changes.push({
        summary: `rewrite ${[...staleFiles.map((f) => `${PKI}/${f === "ca" ? "ca.crt" : f === "cert" ? "node.crt" : "node.key"}`), ...(configSame ? [] : [CONFIG])].join(", ")}; reload Patroni`,
        before: { config: o.config ?? "(missing)" },
        after: { config: d.lines },
        steps: [
          ...staleFiles.map((k) => files[k]),
          ...(configSame ? [] : [writeConfig]),
          {
            kind: "run",
            command: `systemctl enable -q patroni && systemctl reload-or-restart patroni\n${waitRunning(d.restPort, 120)}`,
          },
        ],
        risk: "restart",
      });
    } else if (!o.active || !o.enabled) {
      changes.push({
        summary: `${o.enabled ? "" : "enable and "}start Patroni on ${d.name}`,
        before: { active: o.active, enabled: o.enabled },
        after: { active: true, enabled: true },
        // A member coming back adds to the cluster: with the nodes applied at once.
        steps: [
          {
            kind: "run",
            command: `systemctl enable -q patroni && systemctl start patroni\n${waitRunning(d.restPort, 180)}`,
          },
        ],
      });
    }
    if (changes.length === 0 && o.member?.pendingRestart)
      changes.push({
        summary: `restart PostgreSQL on ${d.name}: a setting waits for it${o.member.role === "replica" ? "" : " (a switchover first, while it is the primary)"}`,
        before: { pendingRestart: true },
        after: { pendingRestart: false },
        // The role is read again when the step runs: a replica may have been promoted meanwhile.
        steps: [{ kind: "run", command: restartPending(d.name, d.restPort) }],
        risk: "restart",
      });
    if (d.setsDynamic && o.dynamic) {
      const drift = dynamicDrift(d.dynamic, o.dynamic);
      const restarts = drift.some((k) => RESTART_PARAMETERS.some((p) => k === `postgresql.parameters.${p}`));
      if (drift.length > 0)
        changes.push({
          summary: `set Patroni's dynamic configuration: ${drift.join(", ")}${restarts ? "; then restart the members one at a time (replicas first, the primary after a switchover)" : ""}`,
          before: { dynamic: o.dynamic },
          after: { dynamic: d.dynamic },
          steps: [
            { kind: "run", command: restCall(d.restPort, "PATCH", "/config", d.dynamic) },
            ...(restarts ? [{ kind: "run" as const, command: rollRestarts(d.restPort) }] : []),
          ],
          ...(restarts ? { risk: "restart" as const } : {}),
        });
    }
    return changes;
  },
  // Roles, lag and timelines move by themselves; a saved plan compares what plan() reads.
  stableFacts: (o) => ({ ...o, member: undefined, members: undefined }),
};
