// Canned probe answers of a factory-fresh and of a converged node, for the fake transport.
import type { FakeProbeAnswer } from "../../src/transport/fake.js";

export function factoryProbe(hostname: string): Record<string, FakeProbeAnswer> {
  return {
    hosts: { stdout: `present\n127.0.0.1 localhost\n127.0.1.1 ${hostname}\n` },
    hostname: { stdout: `static=${hostname}\ntransient=${hostname}\n` },
    "ip-forward": { stdout: "runtime net.ipv4.ip_forward=0\n" },
  };
}

export function convergedProbe(name: string, hostsFile: string): Record<string, FakeProbeAnswer> {
  return {
    hosts: { stdout: `present\n${hostsFile}` },
    hostname: { stdout: `static=${name}\ntransient=${name}\n` },
    "ip-forward": {
      stdout:
        "runtime net.ipv4.ip_forward=1\nfile /etc/sysctl.d/90-picotrader-ip-forward.conf\n| net.ipv4.ip_forward = 1\n",
    },
  };
}
