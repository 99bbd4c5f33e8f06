import { readFileSync } from "node:fs";
import { basename, relative } from "node:path";
import { isMap, isScalar, LineCounter, parseDocument, type Document, type Node } from "yaml";
import { ManifestError, type Diagnostic } from "../errors.js";

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

/** Renders a path the way a reader of the YAML sees it: `nodes[1].address`. */
export function formatPath(path: ManifestPath): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

/** Reads and parses a manifest file; syntax errors become diagnostics. Throws ManifestError. */
export function readManifestSource(path: string): ManifestSource {
  let text: string;
  const file = displayName(path);
  try {
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
  return {
    file,
    data: doc.toJS(),
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
