// The cluster's certificate authority for etcd, kept by the controller: a CA and one certificate per
// etcd node and database node (its name, hostname and address, for peers and clients alike), made with this machine's
// openssl and stored outside Git, keys 0600 in a 0700 folder. Nothing here prints a key.
import { execFileSync } from "node:child_process";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { PicoError } from "./errors.js";
import type { Manifest, NodeSpec } from "./manifest/types.generated.js";

/** A node's certificate and key, PEM. */
export interface NodeCertificate {
  cert: string;
  key: string;
}

/** What the etcd concern puts on nodes: the CA's certificate, and each etcd node's own. */
export interface EtcdPki {
  ca: string;
  nodes: Readonly<Record<string, NodeCertificate>>;
}

/** A node certificate with fewer days left than this is made again. */
const RENEW_DAYS = 30;
const NODE_DAYS = 825;
const CA_DAYS = 3650;

/**
 * The folder of a cluster's CA: `$PICOTRADER_PKI`, else `$XDG_DATA_HOME/picotrader/pki/CLUSTER`,
 * else `~/.local/share/picotrader/pki/CLUSTER`.
 */
export function pkiDir(cluster: string, env: NodeJS.ProcessEnv): string {
  if (env.PICOTRADER_PKI) return env.PICOTRADER_PKI;
  const data = env.XDG_DATA_HOME || join(homedir(), ".local", "share");
  return join(data, "picotrader", "pki", cluster);
}

/** The names a node's certificate must carry: DNS names and IP addresses. Pure. */
export function certificateNames(node: NodeSpec): { dns: string[]; ips: string[] } {
  return {
    dns: [...new Set([node.name, node.hostname ?? node.name, "localhost"])],
    ips: [node.address, "127.0.0.1"],
  };
}

/** True when `pem` (with `key`) is a certificate of `ca` for every one of `names`, valid for a while yet. */
export function certificateFits(
  pem: string,
  key: string,
  ca: X509Certificate,
  names: { dns: string[]; ips: string[] },
  now = Date.now(),
): boolean {
  try {
    const cert = new X509Certificate(pem);
    return (
      cert.checkIssued(ca) &&
      cert.verify(ca.publicKey) &&
      cert.checkPrivateKey(createPrivateKey(key)) &&
      Date.parse(cert.validTo) - now > RENEW_DAYS * 86_400_000 &&
      names.dns.every((n) => cert.checkHost(n, { wildcards: false }) === n) &&
      names.ips.every((ip) => cert.checkIP(ip) === ip)
    );
  } catch {
    // An unreadable certificate or key is one that does not fit: it is made again.
    return false;
  }
}

/** Runs openssl; its failure is an error naming what was being made, with openssl's own words. */
function openssl(what: string, args: string[], cwd: string): void {
  try {
    execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? "").trim();
    throw new PicoError(
      `pki: openssl could not make ${what} in ${cwd}: ${stderr || (err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/** openssl's own configuration file adds CA extensions to every `req -x509`: ours adds none. */
const OPENSSL_CONFIG = "[req]\ndistinguished_name = dn\n[dn]\n";
const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** Makes a certificate and its key in `dir` as NAME.crt and NAME.key, replacing both at once. */
function issue(
  config: string,
  dir: string,
  name: string,
  subject: string,
  days: number,
  extensions: string[],
  signer?: string,
) {
  const tmp = `.${name}.new`;
  openssl(
    `${name}.crt`,
    [
      "req",
      "-config",
      config,
      "-x509",
      "-new",
      ...EC,
      "-keyout",
      `${tmp}.key`,
      "-out",
      `${tmp}.crt`,
      "-days",
      String(days),
      "-subj",
      subject,
      ...(signer ? ["-CA", `${signer}.crt`, "-CAkey", `${signer}.key`] : []),
      ...extensions.flatMap((e) => ["-addext", e]),
    ],
    dir,
  );
  chmodSync(join(dir, `${tmp}.key`), 0o600);
  renameSync(join(dir, `${tmp}.key`), join(dir, `${name}.key`));
  renameSync(join(dir, `${tmp}.crt`), join(dir, `${name}.crt`));
}

/**
 * The etcd PKI of a manifest, made where missing: the CA on first use, and a certificate for each
 * etcd node that has none, or one that no longer fits (other names, another CA, expiring within 30
 * days). Returns undefined when the manifest declares no etcd.
 */
export function readEtcdPki(m: Manifest, env: NodeJS.ProcessEnv): EtcdPki | undefined {
  if (!m.etcd) return undefined;
  const dir = pkiDir(m.cluster.name, env);
  // openssl's configuration, written only when something is issued: a complete PKI is only read.
  let config: string | undefined;
  const configFile = () => {
    if (config === undefined) {
      config = join(dir, "openssl.cnf");
      writeFileSync(config, OPENSSL_CONFIG);
    }
    return config;
  };
  try {
    mkdirSync(join(dir, "nodes"), { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    if (!existsSync(join(dir, "ca.crt")) || !existsSync(join(dir, "ca.key")))
      issue(configFile(), dir, "ca", `/CN=${m.cluster.name} etcd CA`, CA_DAYS, [
        "basicConstraints=critical,CA:TRUE",
        "keyUsage=critical,keyCertSign,cRLSign",
      ]);
    const caPem = readFileSync(join(dir, "ca.crt"), "utf8");
    const ca = new X509Certificate(caPem);
    const nodes: Record<string, NodeCertificate> = {};
    // etcd's members, and the database's nodes: Patroni is a client of etcd.
    for (const node of m.nodes.filter(
      (n) => n.roles.includes("etcd") || (m.postgres && n.roles.includes("database")),
    )) {
      const base = join(dir, "nodes", node.name);
      const names = certificateNames(node);
      const read = () => ({
        cert: readFileSync(`${base}.crt`, "utf8"),
        key: readFileSync(`${base}.key`, "utf8"),
      });
      let current = existsSync(`${base}.crt`) && existsSync(`${base}.key`) ? read() : undefined;
      if (!current || !certificateFits(current.cert, current.key, ca, names)) {
        issue(
          configFile(),
          join(dir, "nodes"),
          node.name,
          `/CN=${node.name}`,
          NODE_DAYS,
          [
            `subjectAltName=${[...names.dns.map((n) => `DNS:${n}`), ...names.ips.map((ip) => `IP:${ip}`)].join(",")}`,
            "extendedKeyUsage=serverAuth,clientAuth",
            "basicConstraints=critical,CA:FALSE",
            "keyUsage=critical,digitalSignature,keyEncipherment",
          ],
          join(dir, "ca"),
        );
        current = read();
      }
      nodes[node.name] = current;
    }
    return { ca: caPem, nodes };
  } catch (err) {
    if (err instanceof PicoError) throw err;
    throw new PicoError(`pki: cannot read or make the etcd CA in ${dir}: ${(err as Error).message}`, {
      cause: err,
    });
  } finally {
    if (config !== undefined) rmSync(config, { force: true });
  }
}
