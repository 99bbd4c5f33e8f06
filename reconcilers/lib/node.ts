import type { NodeSpec } from "../../src/engine/types.js";

/** The hostname a node should have: its `hostname`, else its `name`. */
export function nodeHostname(node: NodeSpec): string {
  return node.hostname ?? node.name;
}
