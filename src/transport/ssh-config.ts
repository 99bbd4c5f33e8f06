// Where and how to reach a node, the OpenSSH way: ~/.ssh/config's Host sections (HostName, User,
// Port, IdentityFile, ProxyJump) matched against the node's name, then its address. Pure: the
// config's text comes in, a target comes out. `Match exec` is never run.
import { homedir } from "node:os";
import SSHConfig from "ssh-config";

/** The keys OpenSSH tries when the config names none, in its order. */
export const DEFAULT_IDENTITY_FILES = ["~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa"];

/** One hop: where to connect and as whom (undefined: the transport's own ladder). */
export interface SshHop {
  host: string;
  port: number;
  user?: string;
}

/** A node's connection as the config makes it. */
export interface SshTarget extends SshHop {
  /** Private key files to try after the agent, in order, `~` expanded. */
  identityFiles: string[];
  /** A jump host to go through (ProxyJump), itself resolved through the config. */
  jump?: SshHop;
}

/** `~`, `%d` (home), `%h` (host) and `%%` as ssh_config(5) expands them in paths and names. */
function expand(text: string, host: string, home: string): string {
  return text
    .replace(/^~(?=\/|$)/, home)
    .replace(/%(.)/g, (all, c: string) => ({ d: home, h: host, "%": "%" })[c] ?? all);
}

/** A directive's first value, lower-cased names (ignoreCase). */
function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** "user@host:port" (ProxyJump's form) -> its parts; the first hop of a list. Pure. */
export function parseJump(spec: string): { host: string; port?: number; user?: string } | undefined {
  const hop = spec.split(",")[0]?.trim() ?? "";
  if (hop === "" || hop.toLowerCase() === "none") return undefined;
  const m = /^(?:([^@]+)@)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hop);
  if (!m) return undefined;
  return {
    host: (m[2] ?? "").replace(/^\[|\]$/g, ""),
    ...(m[3] ? { port: Number(m[3]) } : {}),
    ...(m[1] ? { user: m[1] } : {}),
  };
}

/**
 * Resolves a node through the config text (undefined: no config): the manifest's `sshPort` wins over
 * `Port`, since the manifest is what sshd listens on; `HostName` replaces the address. Pure.
 */
export function resolveSshTarget(
  configText: string | undefined,
  node: { name: string; address: string; sshPort?: number },
  home = homedir(),
): SshTarget {
  const config = SSHConfig.parse(configText ?? "");
  // compute() asks the system for the local user each time (os.userInfo()): not without a config.
  const lookup = (host: string): Record<string, string | string[]> =>
    config.length === 0 ? {} : config.compute(host, { ignoreCase: true, matchExec: false });
  // The node's name first (what a user writes after `ssh`), then its address; first value wins.
  const byName = lookup(node.name);
  const byAddress = lookup(node.address);
  const get = (key: string) => first(byName[key]) ?? first(byAddress[key]);
  const files = [byName.identityfile ?? [], byAddress.identityfile ?? []].flat();
  const hostName = get("hostname");
  const host = hostName !== undefined ? expand(hostName, node.address, home) : node.address;
  const user = get("user");
  const port = node.sshPort ?? (get("port") !== undefined ? Number(get("port")) : 22);
  const jumpSpec = get("proxyjump");
  const jump = jumpSpec !== undefined ? parseJump(jumpSpec) : undefined;
  let jumpHop: SshHop | undefined;
  if (jump !== undefined) {
    const j = lookup(jump.host);
    const jHost = first(j.hostname);
    const jPort = first(j.port);
    const jUser = jump.user ?? first(j.user);
    jumpHop = {
      host: jHost !== undefined ? expand(jHost, jump.host, home) : jump.host,
      port: jump.port ?? (jPort !== undefined ? Number(jPort) : 22),
      ...(jUser !== undefined ? { user: jUser } : {}),
    };
  }
  return {
    host,
    port,
    ...(user !== undefined ? { user } : {}),
    identityFiles: [
      ...new Set([...files, ...DEFAULT_IDENTITY_FILES].map((f) => expand(f, node.address, home))),
    ],
    ...(jumpHop ? { jump: jumpHop } : {}),
  };
}
