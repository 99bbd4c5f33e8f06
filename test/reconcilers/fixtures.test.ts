// One generic runner for every concern's fixture table (test/fixtures/reconcilers/<concern>.json):
// parse cases (raw probe output -> observed), plan cases (desired + observed -> changes) and
// desired cases (a node of the example cluster.yaml -> desired). Every concern has a no-op case.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { reconcilers } from "../../reconcilers/index.js";
import { maskSecret } from "../../reconcilers/lib/secret.js";
import { loadManifest } from "../../src/manifest/validate.js";

interface Fixture {
  parse?: { name: string; output: string; observed: unknown }[];
  plan?: {
    name: string;
    desired: unknown;
    observed: unknown;
    changes: unknown[];
    /** The concern's facts on other nodes, by node name (null: not observed); default none. */
    peers?: Record<string, unknown>;
    /** The facts once the changes' steps ran: planning again on them must give nothing. */
    observedAfter?: unknown;
  }[];
  desired?: { name: string; node: string; network?: object; desired: unknown }[];
}

/** The controller's files a fixture's desired case sees (as under tftp.root). */
const FIXTURE_FILES = {};

const dir = join(import.meta.dirname, "..", "fixtures", "reconcilers");
const manifest = loadManifest(join(import.meta.dirname, "..", "..", "cluster.yaml"));

t.strictSame(
  readdirSync(dir).sort(),
  reconcilers.map((r) => `${r.name}.json`).sort(),
  "every concern has a fixture table, and no table is orphaned",
);

/**
 * A table's text with every `{{mask:SECRET}}` replaced by what facts show for SECRET: the stand-in
 * is keyed per process, so a table cannot hold its value.
 */
function readTable(path: string): Fixture {
  return JSON.parse(
    readFileSync(path, "utf8").replace(/\{\{mask:([^}]*)\}\}/g, (_, secret: string) => maskSecret(secret)),
  ) as Fixture;
}

/** A case's peers as the engine gives them: JSON's null is a node not observed. */
const peersOf = (peers: Record<string, unknown> = {}): Record<string, unknown> =>
  Object.fromEntries(Object.entries(peers).map(([k, v]) => [k, v ?? undefined]));

const asJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v)) as unknown;

for (const r of reconcilers) {
  const fixture = readTable(join(dir, `${r.name}.json`));
  t.test(r.name, async (t) => {
    t.ok(
      fixture.plan?.some((c) => c.changes.length === 0),
      "has a no-op plan case",
    );
    // Facts are JSON data (as `picotrader facts` prints them): compared as JSON, so an absent key and
    // `undefined` are the same, and everything else is exact.
    for (const c of fixture.parse ?? [])
      t.strictSame(asJson(r.parse(c.output)), c.observed, `parse: ${c.name}`);
    for (const c of fixture.plan ?? [])
      t.strictSame(r.plan(c.desired, c.observed, peersOf(c.peers)), c.changes, `plan: ${c.name}`);
    // The second run, as pyinfra's tests make it: on the facts after the steps, nothing to do.
    const after = (fixture.plan ?? []).filter((c) => c.observedAfter !== undefined);
    t.ok(
      after.some((c) => c.changes.length > 0),
      "has a plan case with changes and the facts after them (observedAfter)",
    );
    for (const c of after)
      t.strictSame(r.plan(c.desired, c.observedAfter, peersOf(c.peers)), [], `second plan after: ${c.name}`);
    for (const c of fixture.desired ?? []) {
      const node = manifest.nodes.find((n) => n.name === c.node);
      if (!node) throw new Error(`fixture ${r.name}: no node ${c.node} in cluster.yaml`);
      const m = c.network ? { ...manifest, network: { ...manifest.network, ...c.network } } : manifest;
      t.strictSame(
        r.desired(node, m, {
          secrets: { PICOTRADER_VRRP_PASSWORD: "fixture-secret" },
          files: FIXTURE_FILES,
          imageParts: [],
          partSize: 0,
        }),
        c.desired,
        `desired: ${c.name}`,
      );
    }
  });
}
