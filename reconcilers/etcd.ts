// Owns: the etcd member on each node with the role etcd: /etc/default/etcd, the unit's drop-in, the
// CA's and the node's certificate and key under /etc/etcd/pki, the data directory
// /var/lib/etcd/picotrader, and the cluster's membership (bootstrap, join as a learner then
// promotion, removal of members the manifest no longer has). Runs: etcdctl against this node's
// own client URL (and a peer's, to join), systemctl. Leaves alone: the package (the packages
// concern), the firewall (the firewall concern), and etcd on nodes without the role.
import type { ChangeDraft, Manifest, NodeSpec, Peers, Reconciler, Step } from "../src/engine/types.js";
import { PicoError } from "../src/errors.js";
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
import { normaliseConfigLines } from "./lib/text.js";

const CONFIG = "/etc/default/etcd";
const DROP_IN = "/etc/systemd/system/etcd.service.d/picotrader.conf";
const PKI = "/etc/etcd/pki";
const DATA_DIR = "/var/lib/etcd/picotrader";
/** Where the package's own first start puts a single-member cluster named after the host. */
const PACKAGE_DATA_DIR = "/var/lib/etcd/default";
/** The initial-cluster settings of a bootstrap or a join: read once by etcd, on an empty data dir. */
const INITIAL_ENV = "/run/picotrader/etcd-initial.env";

/** The unit reads our initial-cluster file after the config: present only while a member is made. */
const DROP_IN_CONTENT = `# Managed by picotrader: the initial cluster of a bootstrap or a join, only while it runs.
[Service]
EnvironmentFile=-${INITIAL_ENV}
`;

/** etcdctl with this node's certificate; endpoints given per command. One thread (GOMAXPROCS=1): a short
 * call needs no more, and Go starts one per core otherwise (measured: a probe's call costs less). */
const ETCDCTL = `GOMAXPROCS=1 ETCDCTL_API=3 ETCDCTL_CACERT=${PKI}/ca.crt ETCDCTL_CERT=${PKI}/node.crt ETCDCTL_KEY=${PKI}/node.key etcdctl --dial-timeout=2s --command-timeout=3s`;

/** A member of the cluster as the manifest wants it. */
export interface EtcdMember {
  name: string;
  peerUrl: string;
  clientUrl: string;
}

export interface EtcdDesired {
  member: EtcdMember;
  /** This node's own client URL on 127.0.0.1, which etcdctl on the node talks to. */
  local: string;
  /** Every etcd node of the manifest, in order. */
  members: EtcdMember[];
  /** /etc/default/etcd. */
  config: string;
  /** PEMs: the CA's certificate, the node's certificate and key. */
  ca: string;
  cert: string;
  key: string;
  /** sha256 of each, as the probe reports them. */
  digests: CertificateDigests;
}

/** A member as `etcdctl member list` names it. */
export interface ObservedMember {
  id: string;
  name: string;
  peerUrl: string;
  clientUrl: string;
  learner: boolean;
}

export interface EtcdObserved {
  /** Meaningful lines of /etc/default/etcd; undefined when missing. */
  config?: string[];
  dropIn: boolean;
  /** sha256 of the files under /etc/etcd/pki; undefined when missing. */
  digests: Partial<CertificateDigests>;
  /** Our data directory holds a member. */
  dataDir: boolean;
  /** The package's own first start left its single-member data behind. */
  packageData: boolean;
  active: boolean;
  enabled: boolean;
  /** The cluster's members as this node's etcd answers; undefined when it does not. */
  members?: ObservedMember[];
  /**
   * This member's status: its id and whether it is a learner (from the member list); on the first
   * member, which asks every member's status, also whether it leads and its version. Undefined
   * when it does not answer.
   */
  status?: { id: string; leader?: boolean; learner: boolean; version?: string };
  /** The first member only (the one that removes members): every started member answers its status. */
  healthy?: boolean;
}

/** The member a node is, from its address and the manifest's ports. Pure. */
export function etcdMember(node: NodeSpec, m: Manifest): EtcdMember {
  return {
    name: node.name,
    peerUrl: `https://${node.address}:${m.etcd?.peerPort ?? 2380}`,
    clientUrl: `https://${node.address}:${m.etcd?.clientPort ?? 2379}`,
  };
}

/** The client URL every member also listens on, on 127.0.0.1. Pure. */
export function localClientUrl(m: Manifest): string {
  return `https://127.0.0.1:${m.etcd?.clientPort ?? 2379}`;
}

/** /etc/default/etcd for a member: everything but the initial cluster, which only a new member reads. Pure. */
export function buildEtcdConfig(node: NodeSpec, m: Manifest): string {
  const e = m.etcd ?? {};
  const me = etcdMember(node, m);
  return [
    "# Managed by picotrader from cluster.yaml: this node's etcd member.",
    `ETCD_NAME=${me.name}`,
    `ETCD_DATA_DIR=${DATA_DIR}`,
    `ETCD_LISTEN_PEER_URLS=${me.peerUrl}`,
    `ETCD_LISTEN_CLIENT_URLS=${me.clientUrl},${localClientUrl(m)}`,
    `ETCD_ADVERTISE_CLIENT_URLS=${me.clientUrl}`,
    `ETCD_INITIAL_ADVERTISE_PEER_URLS=${me.peerUrl}`,
    `ETCD_INITIAL_CLUSTER_TOKEN=${m.cluster.name}-etcd`,
    `ETCD_QUOTA_BACKEND_BYTES=${(e.quotaBackendMiB ?? 512) * 1024 * 1024}`,
    `ETCD_HEARTBEAT_INTERVAL=${e.heartbeatMs ?? 100}`,
    `ETCD_ELECTION_TIMEOUT=${e.electionMs ?? 1000}`,
    // A small board keeps fewer entries in memory before a snapshot.
    "ETCD_SNAPSHOT_COUNT=10000",
    `ETCD_TRUSTED_CA_FILE=${PKI}/ca.crt`,
    `ETCD_CERT_FILE=${PKI}/node.crt`,
    `ETCD_KEY_FILE=${PKI}/node.key`,
    "ETCD_CLIENT_CERT_AUTH=true",
    `ETCD_PEER_TRUSTED_CA_FILE=${PKI}/ca.crt`,
    `ETCD_PEER_CERT_FILE=${PKI}/node.crt`,
    `ETCD_PEER_KEY_FILE=${PKI}/node.key`,
    "ETCD_PEER_CLIENT_CERT_AUTH=true",
    "",
  ].join("\n");
}

/** `name=peerUrl,...` for ETCD_INITIAL_CLUSTER. Pure. */
function initialCluster(members: { name: string; peerUrl: string }[]): string {
  return members.map((x) => `${x.name}=${x.peerUrl}`).join(",");
}

/** Lines of `etcdctl member list -w simple`: id, status, name, peer URLs, client URLs, learner. Pure. */
export function parseMemberList(text: string): ObservedMember[] {
  const members: ObservedMember[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(", ");
    if (f.length < 6 || !/^[0-9a-f]+$/.test(f[0] ?? "")) continue;
    members.push({
      id: f[0] as string,
      name: f[2] as string,
      peerUrl: f[3] as string,
      clientUrl: f[4] as string,
      learner: f[5] === "true",
    });
  }
  return members;
}

/** The line of `etcdctl endpoint status -w simple`: endpoint, id, version, size, leader, learner, ... Pure. */
export function parseEndpointStatus(line: string): EtcdObserved["status"] {
  const f = line.split(", ");
  if (f.length < 6 || !/^[0-9a-f]+$/.test(f[1] ?? "")) return undefined;
  return { id: f[1] as string, version: f[2] as string, leader: f[4] === "true", learner: f[5] === "true" };
}

/**
 * A member's reading of the cluster: the member list; on the first member (the one that removes
 * members), when the list names a member the manifest does not (by name or peer URL, as
 * planRemovals decides: a field that cannot be split counts as not the manifest's), also every
 * member's status in one call, which fails unless each answers: the health a removal waits for. A
 * converged cluster lists none, and is asked nothing more (the status call costs the cluster's
 * members a TLS handshake each). Pure.
 */
export function memberProbe(d: EtcdDesired): string {
  const first = d.members[0]?.name === d.member.name;
  const alternatives = (values: string[]) => values.map(shellQuote).join("|");
  const check = `
    f=\${l#*, }; f=\${f#*, }; name=\${f%%, *}; f=\${f#*, }; peer=\${f%%, *}
    case $name in ${alternatives(d.members.map((m) => m.name))}) continue ;; esac
    case $peer in ${alternatives(d.members.map((m) => m.peerUrl))}) continue ;; esac
    extra=yes`;
  const status = `
  if [ -n "$extra" ]; then
    # Every member's status in one call: it fails unless each answers (the cluster is healthy).
    s=$(${ETCDCTL} --endpoints=${d.local} endpoint status --cluster -w simple 2>/dev/null) && echo healthy=yes
    printf '%s\\n' "$s" | awk -F', ' -v me=${d.member.clientUrl} '$1 == me { print "status " $0 } NF > 1 { n++ } END { print "answered=" n + 0 }'
  fi`;
  return `${first ? "  extra=\n" : ""}  while IFS= read -r l; do
    [ -n "$l" ] || continue
    printf 'member %s\\n' "$l"${first ? check : ""}
  done <<PICOTRADER_MEMBERS
$(${ETCDCTL} --endpoints=${d.local} member list -w simple 2>/dev/null)
PICOTRADER_MEMBERS${first ? status : ""}`;
}

/** What a member's files are: the certificates and key, the config, the unit's drop-in. */
type EtcdFile = "ca" | "cert" | "key" | "config" | "dropIn";
const ALL_FILES: readonly EtcdFile[] = ["ca", "cert", "key", "config", "dropIn"];

/** The steps that write `files` (default: all of them). Pure. */
function writeSteps(d: EtcdDesired, files: readonly EtcdFile[] = ALL_FILES): Step[] {
  const root = { owner: "root", group: "root", mode: "0644" };
  const steps: Record<EtcdFile, Step> = {
    ...certificateSteps(PKI, d, "etcd"),
    config: { kind: "write", path: CONFIG, content: d.config, ...root },
    dropIn: { kind: "write", path: DROP_IN, content: DROP_IN_CONTENT, ...root },
  };
  return files.map((f) => steps[f]);
}

/**
 * Waits (up to `seconds`) until every member of the cluster answers its health check, else fails
 * with what etcdctl says (`before`: the members are checked before a restart, which must not take
 * the cluster below quorum).
 */
function waitHealthy(local: string, seconds: number, before: boolean): string {
  const check = `${ETCDCTL} --endpoints=${local} endpoint health --cluster`;
  const why = before
    ? `not restarting: the cluster is not healthy (a restart now could lose quorum), ${seconds} s waited`
    : `the cluster is not healthy ${seconds} s after the change`;
  return retryEachSecond({
    command: `${check} >/dev/null 2>&1`,
    tries: seconds,
    failure: `etcd: ${why}`,
    diagnose: check,
  });
}

/** Starts etcd on an empty data dir with this initial cluster (state new or existing), then forgets it. */
function startWithInitialCluster(
  members: { name: string; peerUrl: string }[],
  state: "new" | "existing",
): string {
  const env = `ETCD_INITIAL_CLUSTER=${initialCluster(members)}\nETCD_INITIAL_CLUSTER_STATE=${state}\n`;
  return [
    `mkdir -p /run/picotrader && printf %s ${shellQuote(env)} > ${INITIAL_ENV}`,
    `systemctl daemon-reload && systemctl enable -q etcd && systemctl restart etcd; rc=$?; rm -f ${INITIAL_ENV}; exit $rc`,
  ].join("\n");
}

/**
 * `etcdctl member remove`, tried again for up to 30 s while etcd refuses it to protect its quorum:
 * it counts a voting member as up only once it has been connected for 5 s (its HealthInterval), so
 * a remove right after a member (re)started is refused with "unhealthy cluster" (or, for a member
 * still starting, "not enough started members"). Any other error fails at once. The check stays
 * etcd's own: this only waits for it. Pure.
 */
export function memberRemove(endpoint: string, id: string): string {
  return retryEachSecond({
    command: `${ETCDCTL} --endpoints=${endpoint} member remove ${id}`,
    tries: 30,
    failure: `etcd: member ${id} was still refused removal after 30 s: a quorum of the other members is not up`,
    onlyWhile: ["unhealthy cluster", "not enough started members"],
  });
}

/** What the cluster looks like from the other members: the first peer that answers, if any. Pure. */
function clusterView(
  d: EtcdDesired,
  peers: Peers<EtcdObserved>,
): { via: EtcdMember; members: ObservedMember[] } | undefined {
  for (const m of d.members) {
    const p = peers[m.name];
    if (p?.members && p.members.length > 0) return { via: m, members: p.members };
  }
  return undefined;
}

/**
 * The steps by which this node becomes a member of a running cluster, through `via`: added as a
 * learner (unless an earlier try added it already; a started member of its address, whose data this
 * node lost, is removed first), started with the cluster's members as
 * listed at that moment as its initial cluster (etcd checks that they match), then promoted once it
 * has caught up with the leader. Pure.
 */
function joinSteps(d: EtcdDesired, via: EtcdMember, listed: ObservedMember | undefined): Step[] {
  const remote = `${ETCDCTL} --endpoints=${via.clientUrl}`;
  const me = shellQuote(d.member.name);
  // Listed and started before: this node lost its data (a rebuild); its old self goes first.
  const stale = listed !== undefined && listed.name !== "";
  return [
    ...(stale ? [{ kind: "run" as const, command: memberRemove(via.clientUrl, listed.id) }] : []),
    ...(listed && !stale
      ? []
      : [
          {
            kind: "run" as const,
            command: `${remote} member add ${me} --learner --peer-urls=${d.member.peerUrl} >/dev/null`,
          },
        ]),
    {
      kind: "run",
      // Members not started yet list no name: that is this node (etcd allows one learner at a time).
      command: `initial=$(${remote} member list -w simple | awk -F', ' -v me=${me} -v url=${d.member.peerUrl} '{ n = ($3 == "" && $4 == url) ? me : $3; if (n != "") printf "%s%s=%s", (c++ ? "," : ""), n, $4 }') || exit 1
mkdir -p /run/picotrader && printf 'ETCD_INITIAL_CLUSTER=%s\nETCD_INITIAL_CLUSTER_STATE=existing\n' "$initial" > ${INITIAL_ENV}
systemctl daemon-reload && systemctl enable -q etcd && systemctl restart etcd; rc=$?; rm -f ${INITIAL_ENV}; exit $rc`,
    },
    {
      kind: "run",
      // A learner is promoted only once it is in sync with the leader: etcd refuses until then.
      command: `id=$(${remote} member list -w simple | awk -F', ' -v n=${me} '$3 == n && $6 == "true" {print $1}')
[ -z "$id" ] && exit 0
${retryEachSecond({
  command: `${remote} member promote "$id" >/dev/null 2>&1`,
  tries: 60,
  failure: `etcd: ${d.member.name} was not promoted within 60 s`,
})}`,
    },
  ];
}

/** Plans a node that is not a member yet: bootstrap with its peers, or join their cluster. Pure. */
function planNewMember(d: EtcdDesired, o: EtcdObserved, peers: Peers<EtcdObserved>): ChangeDraft[] {
  // The package's first start (at its install, in this same run perhaps) makes a single-member
  // cluster in its own data dir: gone before this node becomes a member of ours.
  const dropPackageData = o.config === undefined || o.packageData;
  const prepare: Step[] = [
    { kind: "run", command: "systemctl stop etcd" },
    ...(dropPackageData ? [{ kind: "run" as const, command: `rm -rf ${PACKAGE_DATA_DIR}` }] : []),
    ...(o.dataDir
      ? [{ kind: "run" as const, command: `mv ${DATA_DIR} ${DATA_DIR}.removed.$(date +%s)` }]
      : []),
  ];
  const setAside = [
    ...(dropPackageData ? [`remove the package's own single-member data (${PACKAGE_DATA_DIR})`] : []),
    ...(o.dataDir ? [`set aside the data of a member the cluster no longer lists`] : []),
  ];
  const suffix = setAside.length ? `; ${setAside.join("; ")}` : "";
  const join = (via: EtcdMember, members: ObservedMember[], how: string): ChangeDraft => ({
    summary: `join etcd member ${d.member.name} to the cluster ${how} (as a learner, then promoted)${suffix}`,
    action: "create",
    before: { member: false },
    after: { member: d.member.name, joinsThrough: via.name },
    steps: [
      ...writeSteps(d),
      ...prepare,
      ...joinSteps(
        d,
        via,
        members.find((x) => x.peerUrl === d.member.peerUrl),
      ),
    ],
    // One member at a time (etcd allows one learner), in the manifest's order: the rolling phase.
    risk: "restart",
  });
  const view = clusterView(d, peers);
  if (view) return [join(view.via, view.members, `through ${view.via.name}`)];
  const unobserved = d.members.filter((m) => m.name !== d.member.name && peers[m.name] === undefined);
  if (unobserved.length > 0)
    throw new PicoError(
      `etcd: ${d.member.name} is not a member yet, and ${unobserved.map((m) => m.name).join(", ")} could not be observed: whether to bootstrap a cluster or join one is unknown`,
    );
  const withData = d.members.filter((m) => peers[m.name]?.dataDir === true);
  if (withData.length > 0)
    throw new PicoError(
      `etcd: ${d.member.name} is not a member yet, and ${withData.map((m) => m.name).join(", ")} hold a cluster's data but none answers: start them first (a cluster is never bootstrapped again)`,
    );
  // No cluster yet: the first member bootstraps one of its own, and the others join it one at a
  // time, in the manifest's order (the rolling phase applies nodes in that order), so that no
  // start ever waits for a member that a later phase of the run would start.
  const first = d.members[0] as EtcdMember;
  if (first.name !== d.member.name) return [join(first, [], `that ${first.name} bootstraps in this run`)];
  return [
    {
      summary: `bootstrap the etcd cluster with member ${d.member.name}, which ${
        d.members
          .slice(1)
          .map((m) => m.name)
          .join(", ") || "no other member"
      } then join${suffix}`,
      action: "create",
      before: { member: false },
      after: { member: d.member.name, initialCluster: [d.member.name] },
      steps: [
        ...writeSteps(d),
        ...prepare,
        { kind: "run", command: startWithInitialCluster([d.member], "new") },
      ],
      risk: "restart",
    },
  ];
}

/** Members the cluster lists that the manifest does not: removed, one per run, by the first member. Pure. */
function planRemovals(d: EtcdDesired, o: EtcdObserved): ChangeDraft[] {
  if (d.members[0]?.name !== d.member.name || !o.members || o.healthy !== true) return [];
  const extra = o.members.find(
    (x) => !d.members.some((m) => m.name === x.name || m.peerUrl === x.peerUrl) && x.id !== o.status?.id,
  );
  if (!extra) return [];
  return [
    {
      summary: `remove etcd member ${extra.name || extra.id} (not in the manifest) from the cluster`,
      action: "remove",
      before: { members: o.members.map((x) => x.name) },
      after: { members: o.members.filter((x) => x !== extra).map((x) => x.name) },
      steps: [
        {
          kind: "run",
          command: memberRemove(d.local, extra.id),
        },
      ],
      risk: "restart",
    },
  ];
}

export const etcd: Reconciler<EtcdDesired, EtcdObserved> = {
  name: "etcd",
  rolling: true,
  after: ["packages", "firewall", "hosts"],
  applies: (node, m) => m.etcd !== undefined && node.roles.includes("etcd"),
  desired(node, m, inputs) {
    const pki = inputs.etcdPki;
    const own = pki?.nodes[node.name];
    if (!pki || !own) throw new PicoError(`etcd: no certificate was made for ${node.name}`);
    return {
      member: etcdMember(node, m),
      local: localClientUrl(m),
      members: m.nodes.filter((n) => n.roles.includes("etcd")).map((n) => etcdMember(n, m)),
      config: buildEtcdConfig(node, m),
      ca: pki.ca,
      cert: own.cert,
      key: own.key,
      digests: certificateDigests({ ca: pki.ca, ...own }),
    };
  },
  units: ["etcd"],
  files: [DROP_IN, CONFIG],
  probe: (d) => `unit_state etcd; printf 'active=%s\\nenabled=%s\\n' "$unit_active" "$unit_enabled"
${buildCertificateDigestProbe(PKI)}
file_read ${DROP_IN} && [ "$file_body" = ${shellQuote(DROP_IN_CONTENT)} ] && echo drop-in=yes
[ -d ${DATA_DIR}/member ] && echo data=yes
[ -d ${PACKAGE_DATA_DIR}/member ] && echo package-data=yes
if [ "$unit_active" = active ] && [ -f ${PKI}/node.key ]; then
  echo peer-url=${d.member.peerUrl}
${memberProbe(d)}
fi
if [ -f ${CONFIG} ]; then echo '--- config'; file_text ${CONFIG}; fi
true`,
  parse(output) {
    const [head = "", config] = output.split(/^--- config\n/m);
    const lines = head.split("\n");
    const digests = parseCertificateDigests(lines);
    const members = parseMemberList(
      lines
        .filter((l) => l.startsWith("member "))
        .map((l) => l.slice(7))
        .join("\n"),
    );
    const statusLine = lines.find((l) => l.startsWith("status "));
    const own = members.find((m) => lines.includes(`peer-url=${m.peerUrl}`) && m.clientUrl !== "");
    const status = statusLine
      ? parseEndpointStatus(statusLine.slice(7))
      : own && { id: own.id, learner: own.learner };
    const answered = lines.find((l) => l.startsWith("answered="));
    return {
      ...(config === undefined ? {} : { config: normaliseConfigLines(config) }),
      dropIn: lines.includes("drop-in=yes"),
      digests,
      dataDir: lines.includes("data=yes"),
      packageData: lines.includes("package-data=yes"),
      active: lines.includes("active=active") || lines.includes("active=reloading"),
      enabled: lines.includes("enabled=enabled"),
      ...(members.length > 0 ? { members } : {}),
      ...(status ? { status } : {}),
      // Healthy: every started member (one with a client URL) answered its status.
      ...(answered === undefined
        ? {}
        : {
            healthy:
              lines.includes("healthy=yes") &&
              answered === `answered=${members.filter((m) => m.clientUrl !== "").length}`,
          }),
    };
  },
  plan(d, o, peers) {
    // Its own view first (fresher than the peers' when a run verifies what it just did), then theirs.
    const listed = (members: ObservedMember[]) =>
      members.some((x) => x.name === d.member.name || x.peerUrl === d.member.peerUrl);
    const view = o.members ?? clusterView(d, peers)?.members;
    const removedFromCluster = o.dataDir && view !== undefined && !listed(view);
    if (!o.dataDir || removedFromCluster) return planNewMember(d, o, peers);
    const changes: ChangeDraft[] = [];
    const stale: EtcdFile[] = [
      ...staleCertificates(d.digests, o.digests),
      ...(o.config?.join("\n") === normaliseConfigLines(d.config).join("\n") ? [] : ["config" as const]),
      ...(o.dropIn ? [] : ["dropIn" as const]),
    ];
    if (stale.length > 0) {
      const names: Record<EtcdFile, string> = {
        ca: "the CA's certificate",
        cert: "the node's certificate",
        key: "the node's key",
        config: CONFIG,
        dropIn: DROP_IN,
      };
      const what = stale.map((f) => names[f]);
      changes.push({
        summary: `rewrite ${what.join(", ")}; restart etcd member ${d.member.name} and wait until the cluster is healthy`,
        before: { files: what, config: o.config ?? "(missing)" },
        after: { config: normaliseConfigLines(d.config) },
        steps: [
          ...writeSteps(d, stale),
          {
            kind: "run",
            command: `${waitHealthy(d.local, 60, true)}\nsystemctl daemon-reload && systemctl enable -q etcd && systemctl restart etcd || exit 1\n${waitHealthy(d.local, 60, false)}`,
          },
        ],
        risk: "restart",
      });
    } else if (!o.active || !o.enabled) {
      changes.push({
        summary: `${o.enabled ? "" : "enable and "}start etcd member ${d.member.name} and wait until the cluster is healthy`,
        before: { active: o.active, enabled: o.enabled },
        after: { active: true, enabled: true },
        // Starting a member adds to the quorum, never takes from it: with the nodes applied at once,
        // before the rolling restarts (which wait for every member to be healthy).
        steps: [
          {
            kind: "run",
            command: `systemctl enable -q etcd && systemctl start etcd || exit 1\n${waitHealthy(d.local, 60, false)}`,
          },
        ],
      });
    }
    if (o.packageData)
      changes.push({
        summary: `remove ${PACKAGE_DATA_DIR}: the package's own single-member data, unused (this member's is ${DATA_DIR})`,
        action: "remove",
        before: { packageData: true },
        after: { packageData: false },
        steps: [{ kind: "run", command: `rm -rf ${PACKAGE_DATA_DIR}` }],
      });
    return [...changes, ...planRemovals(d, o)];
  },
  // Leader, health and version move by themselves; a saved plan compares what plan() reads.
  stableFacts: (o) => ({
    ...o,
    status: o.status ? { id: o.status.id, learner: o.status.learner } : undefined,
    healthy: undefined,
  }),
};
