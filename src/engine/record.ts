import type { Step } from "./types.js";

/** Where a node keeps what PicoTrader last did to it. */
export const RECORD_PATH = "/var/lib/picotrader/state.json";
/** The name of the batched probe's section that reads the record (not a concern). */
export const RECORD_SECTION = "@record";

/** What the controller last did to a node, written on the node after every apply. */
export interface NodeRecord {
  /** Git commit of the manifest ("<sha>", "<sha>+dirty"); undefined outside a Git repository. */
  commit?: string;
  generation: number;
  appliedAt: string;
  result: string;
  /** Changes applied by that run. */
  applied: number;
  errors: string[];
}

/** The probe section that prints the dead-man timer's restores not yet seen by an apply. */
export const DEADMAN_SECTION = "@deadman";

/** One restore the dead-man timer made on a node: when, and of which access transaction. */
export interface DeadmanRestore {
  at: string;
  transaction: string;
}

/** The restore log's "<time> <transaction>" lines. Pure. */
export function parseDeadmanLog(text: string): DeadmanRestore[] {
  return [...text.matchAll(/^(\S+) (\S+)$/gm)].map((m) => ({
    at: m[1] as string,
    transaction: m[2] as string,
  }));
}

/** How reports say it: "restored by the dead-man timer at T (access transaction X)". Pure. */
export function describeRestore(r: DeadmanRestore): string {
  return `restored by the dead-man timer at ${r.at} (access transaction ${r.transaction})`;
}

/** The probe section that prints the record, or nothing when there is none. */
export const RECORD_PROBE = `file_text ${RECORD_PATH}; true`;

/** Parses the record; undefined when absent. Throws on a record that is not ours. Pure. */
export function parseRecord(text: string): NodeRecord | undefined {
  if (text.trim() === "") return undefined;
  const data = JSON.parse(text) as Partial<NodeRecord>;
  if (typeof data.generation !== "number" || typeof data.appliedAt !== "string")
    throw new Error(`${RECORD_PATH} is not a PicoTrader record`);
  return data as NodeRecord;
}

/** The step that writes a record (atomically, like every file). Pure. */
export function buildRecordStep(record: NodeRecord): Extract<Step, { kind: "write" }> {
  return {
    kind: "write",
    path: RECORD_PATH,
    content: JSON.stringify(record, null, 2) + "\n",
    mode: "0644",
    owner: "root",
    group: "root",
  };
}
