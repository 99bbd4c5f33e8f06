// A temporary folder that the test removes when it ends, passed or failed.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Test } from "tap";

/** A new folder `picotrader-NAME-XXXXXX` under the system's temp folder, removed at `t`'s end. */
export function tempDir(t: Test, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `picotrader-${name}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
