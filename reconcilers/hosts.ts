// Owns: /etc/hosts as a whole: localhost, every node of the cluster (its own name included, at its
// cluster address), the workstation and network.extraHosts. Runs: one atomic write of the file.
// Leaves alone: resolver configuration (nsswitch.conf, resolv.conf) and DNS.
import type { Reconciler } from "../src/engine/types.js";
import { nodeHostname } from "./lib/node.js";

/** Address -> the names on its lines, in order: the effective mapping of an /etc/hosts file. */
export type HostsTable = Record<string, string[]>;

export interface HostsDesired {
  table: HostsTable;
  content: string;
}

export interface HostsObserved {
  /** undefined when /etc/hosts does not exist. */
  table?: HostsTable;
}

/** Parses /etc/hosts into address -> names, ignoring comments, blank lines and spacing. Pure. */
export function parseHostsFile(text: string): HostsTable {
  const table: HostsTable = {};
  for (const raw of text.split("\n")) {
    const [address, ...names] = (raw.split("#")[0] ?? "").trim().split(/\s+/);
    if (!address || names.length === 0) continue;
    table[address] = [...(table[address] ?? []), ...names];
  }
  return table;
}

function buildHostsFile(lines: [string, string[]][]): string {
  const body = lines.map(([address, names]) => `${address}\t${names.join(" ")}`).join("\n");
  return `# Managed by picotrader from cluster.yaml: edits here are drift and will be replaced.\n${body}\n`;
}

export const hosts: Reconciler<HostsDesired, HostsObserved> = {
  name: "hosts",
  applies: () => true,
  desired(node, m) {
    // No 127.0.1.1 line: the node's own name resolves to its cluster address, as kubelet expects.
    const lines: [string, string[]][] = [["127.0.0.1", ["localhost"]]];
    for (const n of m.nodes) {
      lines.push([n.address, [...new Set([n.name, nodeHostname(n)])]]);
    }
    if (m.workstation) lines.push([m.workstation.address, [m.workstation.name]]);
    for (const e of m.network?.extraHosts ?? []) lines.push([e.address, e.names]);
    lines.push(
      ["::1", ["localhost", "ip6-localhost", "ip6-loopback"]],
      ["ff02::1", ["ip6-allnodes"]],
      ["ff02::2", ["ip6-allrouters"]],
    );
    const content = buildHostsFile(lines);
    return { table: parseHostsFile(content), content };
  },
  files: ["/etc/hosts"],
  probe: () => `if [ -e /etc/hosts ]; then echo present; file_text /etc/hosts; else echo absent; fi`,
  parse(output) {
    const [state, ...rest] = output.split("\n");
    return state === "present" ? { table: parseHostsFile(rest.join("\n")) } : {};
  },
  plan(d, o) {
    if (o.table !== undefined && sameTable(d.table, o.table)) return [];
    const changed = Object.keys({ ...d.table, ...o.table }).filter(
      (a) => !sameNames(d.table[a], o.table?.[a]),
    );
    return [
      {
        summary:
          o.table === undefined
            ? "create /etc/hosts"
            : `/etc/hosts: ${changed.length} address${changed.length === 1 ? "" : "es"} to change`,
        before: Object.fromEntries(
          changed.filter((a) => o.table?.[a]).map((a) => [a, o.table?.[a]?.join(" ")]),
        ),
        after: Object.fromEntries(changed.filter((a) => d.table[a]).map((a) => [a, d.table[a]?.join(" ")])),
        steps: [
          {
            kind: "write",
            path: "/etc/hosts",
            content: d.content,
            mode: "0644",
            owner: "root",
            group: "root",
          },
        ],
      },
    ];
  },
};

function sameNames(a: string[] | undefined, b: string[] | undefined): boolean {
  return a !== undefined && b !== undefined && a.length === b.length && a.every((n, i) => n === b[i]);
}

function sameTable(a: HostsTable, b: HostsTable): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => sameNames(a[k], b[k]));
}
