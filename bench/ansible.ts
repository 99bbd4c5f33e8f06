// The Ansible peer for `npm run bench -- --ansible`: Debian's ansible package, an inventory of the
// lab, and host variables computed by PicoTrader's own concerns (bench/ansible/baseline.yml reads
// them), so that both tools check the same desired state.
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sudoersContent, type AdminDesired } from "../reconcilers/admin-user.js";
import type { FirewallDesired } from "../reconcilers/firewall.js";
import type { HostsDesired } from "../reconcilers/hosts.js";
import { reconcilers } from "../reconcilers/index.js";
import type { KeepalivedDesired } from "../reconcilers/keepalived.js";
import { modulesContent, type KernelDesired } from "../reconcilers/kernel.js";
import type { ServiceDesired } from "../reconcilers/lib/service.js";
import type { SysctlDesired } from "../reconcilers/lib/sysctl.js";
import type { PackagesDesired } from "../reconcilers/packages.js";
import { dropInContent, type SshdDesired } from "../reconcilers/sshd.js";
import type { TftpDesired } from "../reconcilers/tftp-server.js";
import type { Inputs, Manifest, NodeSpec } from "../src/engine/types.js";
import type { LabState } from "../src/lab/lab.js";
import { packageRoot } from "../src/paths.js";
import { runOk } from "../src/util/run.js";
import { ensureCommand } from "./debian.js";

/** Installs Debian's ansible (Ansible 2.14 and its collections on bookworm) when it is missing. */
export async function ensureAnsible(log: (line: string) => void): Promise<string> {
  await ensureCommand("ansible-playbook", ["ansible"], () =>
    log("installing Debian's ansible package (the peer; about a minute)"),
  );
  const version = await runOk("ansible-playbook", ["--version"]);
  return version.stdout.split("\n")[0] ?? "";
}

/** What each concern wants on `node`, as the playbook's variables. */
function hostVars(node: NodeSpec, m: Manifest, inputs: Inputs): Record<string, unknown> {
  const want = <D>(name: string): D | undefined => {
    const r = reconcilers.find((x) => x.name === name);
    return r && r.applies(node, m) ? (r.desired(node, m, inputs) as D) : undefined;
  };
  const admin = want<AdminDesired>("admin-user");
  const sshd = want<SshdDesired>("sshd");
  const firewall = want<FirewallDesired>("firewall");
  const kernel = want<KernelDesired>("kernel");
  const forward = want<SysctlDesired>("ip-forward");
  const haproxy = want<ServiceDesired>("haproxy");
  const keepalived = want<KeepalivedDesired>("keepalived");
  const tftp = want<TftpDesired>("tftp-server");
  const services = [
    ...(want("docker") ? ["docker"] : []),
    ...(haproxy?.run ? ["haproxy"] : []),
    ...(keepalived?.run ? ["keepalived"] : []),
    ...(tftp ? ["tftpd-hpa"] : []),
  ];
  return {
    ansible_host: node.address,
    hosts_content: want<HostsDesired>("hosts")?.content,
    admin_user: admin?.user,
    admin_shell: admin?.shell,
    admin_groups: admin?.groups,
    admin_keys: m.admin.sshKeys,
    ...(sshd ? { sshd_dropin: dropInContent(sshd) } : {}),
    ...(admin?.sudo ? { sudoers: sudoersContent(admin.user) } : {}),
    ufw_rules: (firewall?.allow ?? []).map(ufwModuleRule),
    sysctl: [forward, kernel].flatMap((d) =>
      Object.entries(d?.settings ?? {}).map(([key, value]) => ({ key, value, file: d?.file })),
    ),
    ...(kernel && kernel.modules.length > 0 ? { modules_content: modulesContent(kernel.modules) } : {}),
    packages: want<PackagesDesired>("packages")?.install ?? [],
    ...(haproxy?.run ? { haproxy_cfg: haproxy.content } : {}),
    ...(keepalived?.run ? { keepalived_conf: keepalived.template.replaceAll("@INTERFACE@", "eth0") } : {}),
    tftp_files: Object.entries(tftp?.files ?? {}).map(([rel, f]) => ({
      src: f.from,
      dest: `/srv/tftp/${rel}`,
    })),
    services,
  };
}

/**
 * One of PicoTrader's ufw rules ("22/tcp", or a peer's "proto tcp from ADDRESS to any port PORTS")
 * as the arguments of Ansible's ufw module. Pure.
 */
export function ufwModuleRule(rule: string): { from: string; port: string; proto: string } {
  const peer = /^proto (\S+) from (\S+) to any port (\S+)$/.exec(rule);
  if (peer) return { from: peer[2] as string, port: peer[3] as string, proto: peer[1] as string };
  const [port = "", proto = "any"] = rule.split("/");
  return { from: "any", port, proto };
}

/**
 * Writes the inventory (host variables hold the VRRP password: the folder is 0700) and returns the
 * command line of the peer's check, to run inside the lab's network.
 */
export function ansibleCheckArgv(
  lab: LabState,
  m: Manifest,
  inputs: Inputs,
  dir: string,
  pipelining: boolean,
): { argv: string[]; env: Record<string, string> } {
  mkdirSync(join(dir, "host_vars"), { recursive: true });
  chmodSync(dir, 0o700);
  const hosts: Record<string, null> = {};
  for (const node of m.nodes) {
    hosts[node.name] = null;
    writeFileSync(join(dir, "host_vars", `${node.name}.json`), JSON.stringify(hostVars(node, m, inputs)));
  }
  writeFileSync(
    join(dir, "inventory.json"),
    JSON.stringify({
      all: {
        hosts,
        vars: {
          ansible_user: m.admin.user,
          ansible_ssh_private_key_file: lab.keyPath,
          ansible_ssh_common_args: `-o UserKnownHostsFile=${lab.knownHostsPath}`,
        },
      },
    }),
  );
  const bench = join(packageRoot(), "bench", "ansible");
  return {
    argv: ["ansible-playbook", "-i", join(dir, "inventory.json"), "--check", join(bench, "baseline.yml")],
    env: {
      ANSIBLE_CONFIG: join(bench, "ansible.cfg"),
      ANSIBLE_FORKS: String(Math.max(5, m.nodes.length)),
      ANSIBLE_PIPELINING: pipelining ? "true" : "false",
      ANSIBLE_SSH_CONTROL_PATH_DIR: join(dir, "cp"),
      ANSIBLE_LOCAL_TEMP: join(dir, "tmp"),
      ANSIBLE_HOME: join(dir, "home"),
    },
  };
}

/** The PLAY RECAP's changed counts, summed over hosts; NaN when there is no recap. */
export function recapChanged(stdout: string): number {
  const counts = [...stdout.matchAll(/changed=(\d+)/g)].map((x) => Number(x[1]));
  return counts.length === 0 ? NaN : counts.reduce((a, b) => a + b, 0);
}
