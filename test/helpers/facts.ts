// Canned probe answers of a factory-fresh and of a converged node, for the fake transport.
import type { FakeProbeAnswer } from "../../src/transport/fake.js";
import { HARDENED } from "../../reconcilers/sshd.js";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFq8tQ7p3yJ3gqWc9Fv0jFzD7bq8hXzv0P1Xy9m1QZ7t op@ws";
export const TEST_ADMIN_KEY = KEY;

/** A board's stock boot.ini, booted from the eMMC: the boot concern plans nothing. */
const STOCK_BOOT: FakeProbeAnswer = {
  stdout: '--- ini\nODROIDC2-UBOOT-CONFIG\nsetenv bootlabel "Ubuntu"\n\n--- end\nbooted=\n',
};

export function factoryProbe(hostname: string): Record<string, FakeProbeAnswer> {
  return {
    hosts: { stdout: `present\n127.0.0.1 localhost\n127.0.1.1 ${hostname}\n` },
    hostname: { stdout: `static=${hostname}\ntransient=${hostname}\n` },
    "admin-user": { stdout: "" },
    "ssh-keys": { stdout: "" },
    sshd: { stdout: "permitrootlogin yes\npasswordauthentication yes\n" },
    firewall: { stdout: "installed=yes\nStatus: inactive\nincoming=DROP\noutgoing=ACCEPT\n" },
    "ip-forward": { stdout: "runtime net.ipv4.ip_forward=0\n" },
    boot: STOCK_BOOT,
    generation: { stdout: "" },
  };
}

export function convergedProbe(
  name: string,
  hostsFile: string,
  firewallRules: string[],
): Record<string, FakeProbeAnswer> {
  return {
    hosts: { stdout: `present\n${hostsFile}` },
    hostname: { stdout: `static=${name}\ntransient=${name}\n` },
    "admin-user": { stdout: "passwd=sysman:x:1000:1000::/home/sysman:/bin/bash\ngroups=sysman\nsudo=yes\n" },
    "ssh-keys": { stdout: `home /home/sysman\ndir 700 sysman\nfile 600 sysman\n| ${KEY}\n` },
    sshd: {
      stdout: `permitrootlogin no\npasswordauthentication no\n${Object.entries(HARDENED)
        .map(([k, v]) => `${k} ${v}\n`)
        .join("")}`,
    },
    firewall: {
      stdout: `installed=yes\nStatus: active\nincoming=DROP\noutgoing=ACCEPT\n${firewallRules.map((r) => `### tuple ### allow tcp ${r} 0.0.0.0/0 any 0.0.0.0/0 in\n`).join("")}`,
    },
    "ip-forward": {
      stdout:
        "runtime net.ipv4.ip_forward=1\nfile /etc/sysctl.d/90-picotrader-ip-forward.conf\n| net.ipv4.ip_forward = 1\n",
    },
    boot: STOCK_BOOT,
    generation: { stdout: "" },
  };
}
