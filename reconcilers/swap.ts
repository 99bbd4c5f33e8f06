// Owns: that no swap is in use or configured: active swap (/proc/swaps), swap lines of /etc/fstab
// (commented out with a note, never deleted), swap units and zram swap services (masked).
// Runs: `swapoff -a`, one atomic write of /etc/fstab, `systemctl mask --now`. Leaves alone: swap
// files on disk (removing them is the operator's call) and every other fstab line.
import type { ChangeDraft, Reconciler, Step } from "../src/engine/types.js";
import { shellQuote } from "../src/transport/quote.js";

/** zram swap services of the usual packages (zram-tools, zram-config, systemd-zram-generator). */
export const ZRAM_SERVICES = ["zramswap.service", "zram-config.service", "systemd-zram-setup@zram0.service"];

const NOTE = "# disabled by picotrader (Kubernetes needs swap off): ";

export interface SwapDesired {
  enabled: false;
}

export interface SwapObserved {
  /** Devices or files in /proc/swaps. */
  active: string[];
  /** /etc/fstab as it is; undefined when missing. */
  fstab?: string;
  /** Swap units that are active or enabled (linked in a .wants folder: list-unit-files takes 0.9 s). */
  units: string[];
  /** zram services that exist and are not masked, with their unit file state. */
  zram: Record<string, string>;
}

/** The swap entries of an fstab: lines whose type (third field) is swap. Pure. */
export function fstabSwapLines(fstab: string): string[] {
  return fstab.split("\n").filter((line) => {
    const fields = line.trim().split(/\s+/);
    return !line.trim().startsWith("#") && fields[2] === "swap";
  });
}

export const swap: Reconciler<SwapDesired, SwapObserved> = {
  name: "swap",
  applies: (_node, m) => m.swap?.enabled === false,
  desired: () => ({ enabled: false }),
  // Not "*.swap": a swap unit is active only while its device is in /proc/swaps, so systemd is asked
  // for them only then (a pattern costs its show a search of every loaded unit).
  units: ZRAM_SERVICES,
  files: ["/etc/fstab"],
  probe:
    () => `swaps=; { read -r _; while read -r dev _; do echo "active $dev"; swaps=yes; done; } < /proc/swaps
[ -z "$swaps" ] || for u in $(units_active '*.swap'); do echo "unit $u"; done
for u in /etc/systemd/system/*.wants/*.swap; do [ -e "$u" ] && echo "unit \${u##*/}"; done
for s in ${ZRAM_SERVICES.join(" ")}; do unit_state "$s"; [ -n "$unit_enabled" ] && echo "zram $s $unit_enabled"; done
if [ -f /etc/fstab ]; then echo '--- fstab'; file_text /etc/fstab; fi
true`,
  parse(output) {
    const [head = "", fstab] = output.split(/^--- fstab\n/m);
    const observed: SwapObserved = { active: [], units: [], zram: {} };
    for (const line of head.split("\n")) {
      const [kind, name, state] = line.split(" ");
      if (name === undefined) continue;
      if (kind === "active") observed.active.push(name);
      if (kind === "unit" && !observed.units.includes(name)) observed.units.push(name);
      if (kind === "zram" && state !== undefined && state !== "masked") observed.zram[name] = state;
    }
    return fstab === undefined ? observed : { ...observed, fstab };
  },
  plan(_d, o) {
    const changes: ChangeDraft[] = [];
    if (o.active.length > 0) {
      changes.push({
        summary: `swapoff ${o.active.join(", ")}`,
        before: { active: o.active },
        after: { active: [] },
        steps: [{ kind: "run", command: "swapoff -a" }],
      });
    }
    const lines = o.fstab === undefined ? [] : fstabSwapLines(o.fstab);
    if (o.fstab !== undefined && lines.length > 0) {
      const content = o.fstab
        .split("\n")
        .map((line) => (lines.includes(line) ? NOTE + line : line))
        .join("\n");
      changes.push({
        summary: `comment out ${lines.length} swap line(s) of /etc/fstab`,
        before: { fstab: lines },
        after: { fstab: lines.map((l) => NOTE + l) },
        steps: [
          { kind: "write", path: "/etc/fstab", content, mode: "0644", owner: "root", group: "root" },
          // systemd's fstab generator must forget the swap units it made from those lines.
          { kind: "run", command: "systemctl daemon-reload" },
        ],
      });
    }
    const units = [...o.units, ...Object.keys(o.zram)];
    if (units.length > 0) {
      changes.push({
        summary: `mask ${units.join(", ")}`,
        before: { units: o.units, zram: o.zram },
        after: { units: [], zram: {} },
        steps: units.map((u): Step => ({ kind: "run", command: `systemctl mask --now ${shellQuote(u)}` })),
      });
    }
    return changes;
  },
};
