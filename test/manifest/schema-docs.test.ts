// The schema documents every property a user writes: a description, an example that the property
// itself accepts, and a default wherever leaving the property out means a fixed value. This is
// what editors show on hover and complete from (init's modeline points at this file).
import { Ajv } from "ajv";
import addFormatsModule from "ajv-formats";
import t from "tap";
import { readSchema } from "../../src/manifest/validate.js";

type AddFormats = (ajv: Ajv, formats: string[]) => Ajv;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ??
  addFormatsModule) as AddFormats;

interface Node {
  $ref?: string;
  description?: string;
  examples?: unknown[];
  default?: unknown;
  type?: string;
  properties?: Record<string, Node>;
  required?: string[];
  items?: Node;
}

/** Optional properties with no `default`, and why: leaving them out is not one fixed value. */
const NO_DEFAULT: Record<string, string> = {
  "cluster.virtualIp": "absent: no virtual IP",
  workstation: "absent: no workstation entry in /etc/hosts",
  rootPassword: "absent: the root password is not managed",
  "firewall.allow": "absent: the Kubernetes ports by role (a list too long for a hover)",
  "firewall.allow[].roles": "absent: every node",
  "firewall.allow[].comment": "absent: no comment",
  packages: "absent: no packages managed",
  updates: "absent: upgrades not managed",
  docker: "absent: Docker not managed",
  swap: "absent: swap not managed",
  kernel: "absent: kernel settings not managed",
  keepalived: "absent: no keepalived",
  etcd: "absent: no etcd cluster",
  postgres: "absent: no database",
  storage: "absent: no shared volume",
  "storage.arbiter": "follows replica: true with replica 3, else false",
  "storage.options": "absent: the quorum defaults only",
  "keepalived.interface": "absent: the interface that holds the node's address, found on the node",
  "keepalived.priorities": "absent: by node order",
  haproxy: "absent: no HAProxy",
  tftp: "absent: no TFTP server",
  "nodes[].hostKeyFingerprint": "absent: the key must be pinned (picotrader trust)",
  "nodes[].hostname": "absent: the node's name",
};

const schema = readSchema() as Node & { definitions: Record<string, Node> };
const resolve = (n: Node): Node =>
  n.$ref ? { ...schema.definitions[n.$ref.split("/").pop() ?? ""], ...n } : n;

/** Every property under the root, with its path and whether its parent requires it. */
function properties(n: Node, path: string): { path: string; node: Node; required: boolean }[] {
  const node = resolve(n);
  return Object.entries(node.properties ?? {}).flatMap(([key, child]) => {
    const p = path ? `${path}.${key}` : key;
    const c = resolve(child);
    return [
      { path: p, node: c, required: (node.required ?? []).includes(key) },
      ...properties(c, p),
      ...(c.type === "array" && c.items ? properties(c.items, `${p}[]`) : []),
    ];
  });
}

const all = properties(schema, "");
const ajv = new Ajv({ strict: false });
addFormats(ajv, ["ipv4"]);

t.test("every property: a description and an example it accepts", async (t) => {
  t.ok(all.length >= 70, `${all.length} properties`);
  for (const { path, node } of all) {
    t.ok(node.description, `${path}: description`);
    t.ok((node.examples ?? []).length > 0, `${path}: examples`);
    const check = ajv.compile({ ...node, definitions: schema.definitions });
    for (const example of node.examples ?? [])
      t.ok(check(example), `${path}: example ${JSON.stringify(example)} is accepted`);
    if (node.default !== undefined) t.ok(check(node.default), `${path}: default is accepted`);
  }
});

t.test("every optional property has a default, or a stated reason for none", async (t) => {
  for (const { path, node, required } of all) {
    if (required) continue;
    t.ok(
      node.default !== undefined || NO_DEFAULT[path] !== undefined,
      `${path}: a default, or a reason in NO_DEFAULT`,
    );
    if (node.default !== undefined)
      t.notOk(NO_DEFAULT[path], `${path} has a default: drop it from NO_DEFAULT`);
  }
});
