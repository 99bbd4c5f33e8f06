import { createHmac } from "node:crypto";
import t from "tap";
import { keysFor, knownHostName, parseKnownHosts, withoutHost } from "../../src/transport/known-hosts.js";

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
  t.same(
    keysFor(entries, "10.0.0.1", 22).map((k) => k.key),
    ["AAAAone"],
  );
  t.same(
    keysFor(entries, "10.0.0.2", 2222).map((k) => k.key),
    ["AAAAtwo"],
  );
  t.same(keysFor(entries, "10.0.0.2", 22), [], "the port is part of the name");
  t.same(
    keysFor(entries, "10.0.0.3", 22).map((k) => k.keyType),
    ["ecdsa-sha2-nistp256"],
  );
  t.same(keysFor(entries, "10.0.0.9", 22), [], "markers are not pins");
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
