// The controller's etcd CA: made once with keys 0600 in a 0700 folder, node certificates that carry
// the node's names, kept while they fit and made again when they no longer do.
import { existsSync, readFileSync, statSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import t from "tap";
import { certificateFits, certificateNames, pkiDir, readEtcdPki } from "../src/pki.js";
import type { Manifest } from "../src/manifest/types.generated.js";
import { tempDir } from "./helpers/temp.js";

const manifest = (address3: string): Manifest => ({
  apiVersion: "picotrader/v1",
  cluster: { name: "c", subnet: "10.1.0.0/24" },
  admin: { user: "sysman", sshKeys: [] },
  etcd: {},
  nodes: [
    { name: "n1", address: "10.1.0.11", roles: ["etcd"] },
    { name: "n2", address: "10.1.0.12", roles: ["worker"] },
    { name: "n3", address: address3, hostname: "board3", roles: ["etcd"] },
  ],
});

t.test("the folder: PICOTRADER_PKI, else XDG_DATA_HOME, else ~/.local/share, per cluster", async (t) => {
  t.equal(pkiDir("c", { PICOTRADER_PKI: "/x" }), "/x");
  t.equal(pkiDir("c", { XDG_DATA_HOME: "/d" }), "/d/picotrader/pki/c");
  t.match(pkiDir("c", {}), /\/\.local\/share\/picotrader\/pki\/c$/);
});

t.test("a CA and a certificate per etcd node, keys 0600, folder 0700", async (t) => {
  const dir = join(tempDir(t, "pki"), "pki");
  const env = { PICOTRADER_PKI: dir };
  const pki = readEtcdPki(manifest("10.1.0.13"), env);
  if (!pki) throw new Error("no PKI");
  t.strictSame(Object.keys(pki.nodes).sort(), ["n1", "n3"], "the etcd nodes only");
  t.equal(statSync(dir).mode & 0o777, 0o700);
  for (const f of ["ca.key", "nodes/n1.key", "nodes/n3.key"])
    t.equal(statSync(join(dir, f)).mode & 0o777, 0o600, `${f} is 0600`);
  const ca = new X509Certificate(pki.ca);
  const n3 = new X509Certificate(pki.nodes.n3?.cert ?? "");
  t.ok(n3.verify(ca.publicKey), "signed by the CA");
  t.equal(n3.checkIP("10.1.0.13"), "10.1.0.13");
  t.equal(n3.checkHost("board3"), "board3", "the hostname too");
  t.equal(n3.checkHost("n3"), "n3");
  t.notOk(ca.checkHost("n3"), "the CA is no node");

  t.notOk(existsSync(join(dir, "openssl.cnf")), "openssl's configuration is not left behind");

  const before = statSync(dir).mtimeMs;
  const again = readEtcdPki(manifest("10.1.0.13"), env);
  t.equal(statSync(dir).mtimeMs, before, "a complete PKI is only read: nothing written in its folder");
  t.equal(again?.nodes.n3?.cert, pki.nodes.n3?.cert, "a certificate that fits is kept");
  t.equal(again?.ca, pki.ca, "the CA is made once");

  const moved = readEtcdPki(manifest("10.1.0.23"), env);
  t.not(moved?.nodes.n3?.cert, pki.nodes.n3?.cert, "a node with a new address gets a new certificate");
  t.equal(moved?.nodes.n1?.cert, pki.nodes.n1?.cert, "the others keep theirs");
  t.equal(readFileSync(join(dir, "ca.crt"), "utf8"), pki.ca);
});

t.test("certificateFits: the CA, the key, the names and the time left", async (t) => {
  const dir = join(tempDir(t, "pki"), "pki");
  const pki = readEtcdPki(manifest("10.1.0.13"), { PICOTRADER_PKI: dir });
  const other = readEtcdPki(manifest("10.1.0.13"), { PICOTRADER_PKI: join(dir, "..", "other") });
  if (!pki || !other) throw new Error("no PKI");
  const ca = new X509Certificate(pki.ca);
  const n1 = pki.nodes.n1 as { cert: string; key: string };
  const names = certificateNames({ name: "n1", address: "10.1.0.11", roles: ["etcd"] });
  t.ok(certificateFits(n1.cert, n1.key, ca, names));
  t.notOk(certificateFits(n1.cert, other.nodes.n1?.key ?? "", ca, names), "another key");
  t.notOk(certificateFits(other.nodes.n1?.cert ?? "", other.nodes.n1?.key ?? "", ca, names), "another CA");
  t.notOk(certificateFits(n1.cert, n1.key, ca, { ...names, ips: ["10.1.0.99"] }), "another address");
  t.notOk(certificateFits(n1.cert, n1.key, ca, names, Date.now() + 824 * 86_400_000), "about to expire");
  t.notOk(certificateFits("not a certificate", n1.key, ca, names), "unreadable");
});

t.test("no etcd section: no CA", async (t) => {
  const m = manifest("10.1.0.13");
  delete m.etcd;
  t.equal(readEtcdPki(m, { PICOTRADER_PKI: "/nonexistent/never-made" }), undefined);
});
