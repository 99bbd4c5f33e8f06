import { readFileSync, statSync } from "node:fs";
import { basename, relative } from "node:path";
import { isMap, isScalar, LineCounter, parseDocument, type Document, type Node } from "yaml";
import { ManifestError, type Diagnostic } from "../errors.js";
import { controlCharacterIn } from "./text.js";

/** Where a problem is in the manifest: a path of keys and indexes, as in `nodes[1].address`. */
export type ManifestPath = (string | number)[];

/** A parsed YAML manifest that still knows where each value came from. */
export interface ManifestSource {
  /** The file as named in messages (relative to the working folder when inside it). */
  file: string;
  data: unknown;
  /** Line and column (1-based) of the value at `path`, or of its nearest existing parent. */
  position(path: ManifestPath, key?: string): { line: number; col: number };
}

/**
 * Renders a path the way a reader of the YAML sees it: `nodes[1].address`. A key with a control
 * character is shown quoted (`kernel.sysctl["a\\n"]`), so that a message stays on one line.
 */
export function formatPath(path: ManifestPath): string {
  return path
    .map((p, i) =>
      typeof p === "number"
        ? `[${p}]`
        : controlCharacterIn(p) !== undefined
          ? `[${JSON.stringify(p)}]`
          : i === 0
            ? p
            : `.${p}`,
    )
    .join("");
}

/** The largest manifest read, in bytes: a real cluster's is a few KiB; a larger one is refused unread. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;

/** How many alias expansions a manifest may make (YAML anchors): enough for any real file, not for a bomb. */
export const MAX_ALIAS_COUNT = 100;

/** Reads and parses a manifest file; syntax errors become diagnostics. Throws ManifestError. */
export function readManifestSource(path: string): ManifestSource {
  let text: string;
  const file = displayName(path);
  try {
    const size = statSync(path).size;
    if (size > MAX_MANIFEST_BYTES)
      throw new Error(`${size} bytes is more than a manifest may have (${MAX_MANIFEST_BYTES})`);
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ManifestError([
      { file, line: 1, col: 1, path: "", message: `cannot read: ${(err as Error).message}` },
    ]);
  }
  return parseManifestSource(text, file);
}

/** Parses manifest text; pure. Throws ManifestError with every YAML error. */
export function parseManifestSource(text: string, file: string): ManifestSource {
  if (Buffer.byteLength(text) > MAX_MANIFEST_BYTES)
    throw new ManifestError([
      { file, line: 1, col: 1, path: "", message: `more than ${MAX_MANIFEST_BYTES} bytes: refused` },
    ]);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ManifestError(
      doc.errors.map((e): Diagnostic => {
        const pos = lineCounter.linePos(e.pos[0]);
        return {
          file,
          line: pos.line,
          col: pos.col,
          path: "",
          message: e.message.split("\n")[0] ?? e.message,
        };
      }),
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // yaml throws a ReferenceError when aliases expand past the bound (a "billion laughs" file).
    if (!(err instanceof ReferenceError)) throw err;
    throw new ManifestError([
      {
        file,
        line: 1,
        col: 1,
        path: "",
        message: `too many alias expansions (more than ${MAX_ALIAS_COUNT}): ${err.message}`,
      },
    ]);
  }
  return {
    file,
    data,
    position(path, key) {
      const node = nearestNode(doc, path, key);
      const offset = node?.range?.[0] ?? 0;
      return lineCounter.linePos(offset);
    },
  };
}

function nearestNode(doc: Document, path: ManifestPath, key?: string): Node | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as Node | undefined;
    if (node === undefined || node === null) continue;
    if (key !== undefined && n === path.length && isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && p.key.value === key);
      if (pair && isScalar(pair.key)) return pair.key;
    }
    return node;
  }
  return doc.contents ?? undefined;
}

function displayName(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith("..") ? path : rel || basename(path);
}
