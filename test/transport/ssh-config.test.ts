// ~/.ssh/config as OpenSSH reads it: the node's name first, then its address; first value wins;
// the manifest's sshPort over Port; OpenSSH's default keys after the config's; ProxyJump resolved.
import t from "tap";
import { parseJump, resolveSshTarget } from "../../src/transport/ssh-config.js";

const node = { name: "c2-master1", address: "192.168.0.201" };

t.test("no config: the address, port 22, OpenSSH's default keys in order", async (t) => {
  t.strictSame(resolveSshTarget(undefined, node, "/home/op"), {
    host: "192.168.0.201",
    port: 22,
    identityFiles: ["/home/op/.ssh/id_ed25519", "/home/op/.ssh/id_ecdsa", "/home/op/.ssh/id_rsa"],
  });
});

t.test("Host by name, then by address; the first value wins; ~ and %d expanded", async (t) => {
  const config = [
    "Host c2-*",
    "  HostName %h.lan",
    "  User sysman",
    "  Port 2222",
    "  IdentityFile ~/.ssh/cluster",
    "Host 192.168.0.201",
    "  User other",
    "  IdentityFile %d/.ssh/by-address",
    "Host *",
    "  ProxyJump admin@bastion:2200",
    "Host bastion",
    "  HostName 192.168.0.2",
  ].join("\n");
  t.strictSame(resolveSshTarget(config, node, "/home/op"), {
    host: "192.168.0.201.lan",
    port: 2222,
    user: "sysman",
    identityFiles: [
      "/home/op/.ssh/cluster",
      "/home/op/.ssh/by-address",
      "/home/op/.ssh/id_ed25519",
      "/home/op/.ssh/id_ecdsa",
      "/home/op/.ssh/id_rsa",
    ],
    jump: { host: "192.168.0.2", port: 2200, user: "admin" },
  });
  t.equal(resolveSshTarget(config, { ...node, sshPort: 22 }, "/h").port, 22, "the manifest's sshPort wins");
});

t.test("directives in any letter case; Match exec is never run", async (t) => {
  const config = [
    'Match exec "touch /tmp/picotrader-pwned"',
    "  User evil",
    "HOST c2-master1",
    "  hostname 10.0.0.1",
  ].join("\n");
  const target = resolveSshTarget(config, node, "/h");
  t.equal(target.host, "10.0.0.1");
  t.equal(target.user, undefined, "the Match exec section is not applied");
});

t.test("ProxyJump's forms", async (t) => {
  t.strictSame(parseJump("bastion"), { host: "bastion" });
  t.strictSame(parseJump("op@bastion:2222,second"), { host: "bastion", port: 2222, user: "op" });
  t.strictSame(parseJump("[fe80::1]:22"), { host: "fe80::1", port: 22 });
  t.equal(parseJump("none"), undefined);
});
