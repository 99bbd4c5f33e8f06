// arm64 lab nodes run under qemu-user emulation: the kernel hands an aarch64 ELF to
// qemu-aarch64-static through binfmt_misc. The lab mounts binfmt_misc and registers the interpreter
// only when the host lacks them (with the F flag, so that the kernel opens the interpreter once and
// it works inside the nodes' containers, and C, so that sudo stays setuid root), records what it did, and undoes exactly that when its
// last arm64 lab is removed.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LabError } from "../errors.js";
import { run, runOk } from "../util/run.js";

const MOUNT = "/proc/sys/fs/binfmt_misc";
const ENTRY = "qemu-aarch64";
/** Debian's qemu-user-static registration line (magic, mask, interpreter, flags). */
const DEBIAN_CONF = "/usr/lib/binfmt.d/qemu-aarch64.conf";

/** What the lab did to the host for emulation, kept in this file until it is undone. */
export function binfmtRecordPath(labRoot: string): string {
  return join(labRoot, "host-binfmt.json");
}

interface Record {
  mounted: boolean;
  registered: boolean;
}

/**
 * Makes aarch64 programs run on this host; returns the line to tell the user, or undefined when the
 * host already ran them. Fails naming the package when qemu-user-static is missing.
 */
export async function ensureArm64Emulation(
  labRoot: string,
  host: { mount: string; conf: string } = { mount: MOUNT, conf: DEBIAN_CONF },
): Promise<string | undefined> {
  const { mount, conf } = host;
  if (process.arch === "arm64") return undefined;
  if (!existsSync(conf))
    throw new LabError(
      `arm64 nodes need qemu-user-static (${conf} is missing): apt-get install qemu-user-static (scripts/setup.sh does)`,
    );
  const record: Record = existsSync(binfmtRecordPath(labRoot))
    ? (JSON.parse(readFileSync(binfmtRecordPath(labRoot), "utf8")) as Record)
    : { mounted: false, registered: false };
  const done: string[] = [];
  if (!existsSync(join(mount, "register"))) {
    await runOk("mount", ["-t", "binfmt_misc", "binfmt_misc", mount]);
    record.mounted = true;
    done.push(`mounted binfmt_misc on ${mount}`);
  }
  if (!existsSync(join(mount, ENTRY))) {
    const line = readFileSync(conf, "utf8")
      .split("\n")
      .find((l) => l.startsWith(`:${ENTRY}:`));
    if (!line) throw new LabError(`${conf} has no ${ENTRY} line`);
    // F: the kernel opens the interpreter now, so that it is found from inside a node's root too.
    // C: a setuid program (sudo) gets its owner's credentials, as it would on the board.
    const [, name, type, offset, magic, mask, interpreter, flags = ""] = line.split(":");
    const fixed = [...new Set(`${flags}CF`)].join("");
    writeFileSync(
      join(mount, "register"),
      `:${name}:${type}:${offset}:${magic}:${mask}:${interpreter}:${fixed}`,
    );
    record.registered = true;
    done.push(`registered ${ENTRY} (${interpreter})`);
  }
  if (done.length === 0) return undefined;
  writeFileSync(binfmtRecordPath(labRoot), JSON.stringify(record) + "\n");
  return `${done.join("; ")} for arm64 nodes (undone when the last lab is removed)`;
}

/** Undoes what ensureArm64Emulation() did; returns what was done, or undefined. */
export async function removeArm64Emulation(labRoot: string, mount = MOUNT): Promise<string | undefined> {
  const path = binfmtRecordPath(labRoot);
  if (!existsSync(path)) return undefined;
  const record = JSON.parse(readFileSync(path, "utf8")) as Record;
  const done: string[] = [];
  if (record.registered && existsSync(join(mount, ENTRY))) {
    writeFileSync(join(mount, ENTRY), "-1");
    done.push(`unregistered ${ENTRY}`);
  }
  if (record.mounted && existsSync(join(mount, "register"))) {
    await run("umount", [mount]);
    done.push(`unmounted ${mount}`);
  }
  rmSync(path);
  return done.join("; ") || undefined;
}
