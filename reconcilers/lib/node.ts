import type { NodeSpec } from "../../src/engine/types.js";

/** The hostname a node should have: its `hostname`, else its `name`. */
export function nodeHostname(node: NodeSpec): string {
  return node.hostname ?? node.name;
}

/** True when the node has the control-plane role (it may hold the virtual IP and run HAProxy). */
export function isControlPlane(node: NodeSpec): boolean {
  return node.roles.includes("control-plane");
}
