import { createHmac } from "node:crypto";
import t from "tap";
import {
  hostKeyPolicy,
  keysFor,
  knownHostName,
  parseKnownHosts,
  withoutHost,
} from "../../src/transport/known-hosts.js";

t.test("plain, bracketed-port and hashed entries", async (t) => {
  const salt = Buffer.from("0123456789abcdef0123");
  const hash = createHmac("sha1", salt).update("10.0.0.3").digest("base64");
  const text = [
    "# comment",
    "10.0.0.1 ssh-ed25519 AAAAone",
    "[10.0.0.2]:2222 ssh-ed25519 AAAAtwo",
    `|1|${salt.toString("base64")}|${hash} ecdsa-sha2-nistp256 AAAAthree`,
    "@revoked 10.0.0.9 ssh-ed25519 AAAArevoked",
    "",
  ].join("\n");
  const entries = parseKnownHosts(text);
  t.strictSame(
    keysFor(entries, "10.0.0.1", 22).map((k) => k.key),
    ["AAAAone"],
  );
  t.strictSame(
    keysFor(entries, "10.0.0.2", 2222).map((k) => k.key),
    ["AAAAtwo"],
  );
  t.strictSame(keysFor(entries, "10.0.0.2", 22), [], "the port is part of the name");
  t.strictSame(
    keysFor(entries, "10.0.0.3", 22).map((k) => k.keyType),
    ["ecdsa-sha2-nistp256"],
  );
  t.strictSame(keysFor(entries, "10.0.0.9", 22), [], "markers are not pins");
  t.equal(knownHostName("10.0.0.2", 2222), "[10.0.0.2]:2222");
});

t.test("withoutHost drops a re-imaged host's lines, plain or hashed, and keeps the rest", async (t) => {
  const salt = Buffer.from("0123456789abcdef0123");
  const hash = createHmac("sha1", salt).update("10.0.0.3").digest("base64");
  const text = [
    "# comment",
    "10.0.0.1 ssh-ed25519 AAAAone",
    `|1|${salt.toString("base64")}|${hash} ecdsa-sha2-nistp256 AAAAthree`,
    "10.0.0.3 ssh-ed25519 AAAAthree-plain",
    "[10.0.0.3]:2222 ssh-ed25519 AAAAother-port",
    "",
  ].join("\n");
  t.equal(
    withoutHost(text, "10.0.0.3", 22),
    "# comment\n10.0.0.1 ssh-ed25519 AAAAone\n[10.0.0.3]:2222 ssh-ed25519 AAAAother-port\n",
  );
});

t.test("OpenSSH's patterns: wildcards, negation, markers, hashed names with a port", async (t) => {
  const salt = Buffer.from("fedcba9876543210fedc");
  const hashedPort = createHmac("sha1", salt).update("[10.0.0.7]:2222").digest("base64");
  const entries = parseKnownHosts(
    [
      "10.0.0.* ssh-ed25519 AAAAsubnet",
      "10.0.1.?,!10.0.1.5 ssh-ed25519 AAAAfew",
      "[10.0.2.*]:2222 ssh-ed25519 AAAAports",
      `|1|${salt.toString("base64")}|${hashedPort} ssh-ed25519 AAAAhashedport`,
      "@revoked * ssh-ed25519 AAAAstolen",
      "@cert-authority 10.0.3.* ssh-ed25519 AAAAca",
      "@unknown-marker 10.0.0.1 ssh-ed25519 AAAAignored",
    ].join("\n"),
  );
  t.strictSame(
    keysFor(entries, "10.0.0.42", 22).map((k) => k.key),
    ["AAAAsubnet"],
    "* spans the last octet",
  );
  t.strictSame(
    keysFor(entries, "10.0.1.4", 22).map((k) => k.key),
    ["AAAAfew"],
    "? is one character",
  );
  t.strictSame(keysFor(entries, "10.0.1.5", 22), [], "a matching !pattern excludes the host");
  t.strictSame(keysFor(entries, "10.0.1.42", 22), [], "? is exactly one character");
  t.strictSame(
    keysFor(entries, "10.0.2.9", 2222).map((k) => k.key),
    ["AAAAports"],
  );
  t.strictSame(keysFor(entries, "10.0.2.9", 22), [], "the bracketed port is part of the pattern");
  t.strictSame(
    keysFor(entries, "10.0.0.7", 2222).map((k) => k.key),
    ["AAAAhashedport"],
  );
  const policy = hostKeyPolicy(entries, "10.0.3.1", 22);
  t.strictSame(policy.pinned, []);
  t.strictSame(policy.revoked, ["AAAAstolen"], "@revoked * applies to every host");
  t.strictSame(
    policy.certAuthorities.map((e) => e.key),
    ["AAAAca"],
  );
  t.notOk(
    entries.some((e) => e.key === "AAAAignored"),
    "a line with an unknown marker pins nothing",
  );
});

t.test("withoutHost keeps wildcard and marker lines: they serve other hosts too", async (t) => {
  const text =
    "10.0.0.* ssh-ed25519 AAAAsubnet\n@revoked 10.0.0.3 ssh-ed25519 AAAAold\n10.0.0.3 ssh-ed25519 AAAAmine\n";
  t.equal(
    withoutHost(text, "10.0.0.3", 22),
    "10.0.0.* ssh-ed25519 AAAAsubnet\n@revoked 10.0.0.3 ssh-ed25519 AAAAold\n",
  );
});
