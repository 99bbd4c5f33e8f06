// Owns: /media/boot/boot.ini, what the board's u-boot reads: the stock file (eMMC boot) or ours
// that loads the kernel from the cluster's TFTP server; the stock file is kept as boot.ini.emmc while
// ours is in place, so that going back restores it byte for byte. Runs: copies and renames on the
// boot partition, then a reboot. Leaves alone: the other boot files, and re-imaging (generation).
import type { ChangeDraft, Manifest, NodeSpec, Reconciler } from "../src/engine/types.js";
import { shellQuote } from "../src/transport/quote.js";

/** The board's boot partition, its boot.ini, and where the stock boot.ini is kept while ours is in place. */
export const BOOT_DIR = "/media/boot";
export const BOOT_INI = `${BOOT_DIR}/boot.ini`;
export const STOCK_INI = `${BOOT_DIR}/boot.ini.emmc`;
/** Where a new boot.ini is written before it is copied onto the boot partition (no chown on FAT). */
export const STAGED_INI = "/run/picotrader/boot.ini";
const MARK = "# picotrader-boot: ";

/** The TFTP server of the cluster: the first node with the tftp role. Pure. */
export function tftpServerOf(m: Manifest): NodeSpec | undefined {
  return m.nodes.find((n) => n.roles.includes("tftp"));
}

/** The boot.ini that boots a node's kernel from the TFTP server (the root file system stays on the eMMC). Pure. */
export function buildTftpBootIni(node: NodeSpec, server: string, m: Manifest): string {
  const prefix = Number(m.cluster.subnet.split("/")[1] ?? 24);
  const mask = [24, 16, 8, 0].map((s) => ((0xffffffff << (32 - prefix)) >>> s) & 255).join(".");
  return [
    "ODROIDC2-UBOOT-CONFIG",
    "",
    `${MARK}tftp from ${server}`,
    "# Managed by picotrader from cluster.yaml: the kernel comes from the TFTP server; the stock",
    "# file is saved as boot.ini.emmc and comes back with `boot: emmc`.",
    `setenv bootlabel "picotrader: kernel from TFTP ${server}"`,
    `setenv serverip "${server}"`,
    `setenv ipaddr "${node.address}"`,
    `setenv netmask "${mask}"`,
    'setenv bootargs "root=/dev/mmcblk0p2 rootwait ro console=ttyS0,115200n8 net.ifnames=0 picotrader.boot=tftp"',
    'setenv loadaddr "0x1080000"',
    'setenv dtb_loadaddr "0x1000000"',
    'setenv initrd_loadaddr "0x13000000"',
    "tftp ${loadaddr} c2/boot/Image",
    "tftp ${dtb_loadaddr} c2/boot/meson64_odroidc2.dtb",
    "tftp ${initrd_loadaddr} c2/boot/uInitrd",
    "booti ${loadaddr} ${initrd_loadaddr} ${dtb_loadaddr}",
    "",
  ].join("\n");
}

export interface BootDesired {
  source: "emmc" | "tftp";
  /** boot.ini for `tftp`; undefined for `emmc` (the saved stock file). */
  content?: string;
}

export interface BootObserved {
  /** boot.ini as it is; undefined when missing. */
  ini?: string;
  /** Whether the stock file is saved as boot.ini.emmc. */
  stockSaved: boolean;
  /** What the running system says it booted from (`picotrader.boot=` on the kernel command line, or the lab's marker): display only. */
  bootedFrom?: string;
}

/** Which source a boot.ini selects: ours names itself on its third line; anything else is stock. Pure. */
export function bootSourceOf(ini: string | undefined): string | undefined {
  if (ini === undefined) return undefined;
  const mark = ini.split("\n").find((l) => l.startsWith(MARK));
  return mark === undefined ? "emmc" : (mark.slice(MARK.length).split(" ")[0] ?? "emmc");
}

/** Replaces boot.ini with `source` (a file on the node) in one rename on the boot partition. Pure. */
export function replaceIni(source: string): string {
  return `cp ${shellQuote(source)} ${BOOT_DIR}/.boot.ini.new && sync && mv -f ${BOOT_DIR}/.boot.ini.new ${BOOT_INI} && sync`;
}

export const boot: Reconciler<BootDesired, BootObserved> = {
  name: "boot",
  applies: () => true,
  desired(node, m) {
    if (node.boot !== "tftp") return { source: "emmc" };
    const server = tftpServerOf(m);
    // validate refuses boot: tftp without a TFTP server; an empty address would fail visibly anyway.
    return { source: "tftp", content: buildTftpBootIni(node, server?.address ?? "", m) };
  },
  files: [BOOT_INI],
  probe: () => `if [ -f ${BOOT_INI} ]; then echo '--- ini'; file_text ${BOOT_INI}; echo; echo '--- end'; fi
[ -f ${STOCK_INI} ] && echo stock=saved
from=; read -r c 2>/dev/null < /proc/cmdline; for w in $c; do case $w in picotrader.boot=*) from=\${w#*=} ;; esac; done
[ -n "$from" ] || from=$(tr '\\0' '\\n' < /proc/1/environ 2>/dev/null | sed -n 's/^PICOTRADER_LAB_BOOT=//p')
echo "booted=$from"`,
  parse(output) {
    const ini = /^--- ini\n([\s\S]*)\n--- end$/m.exec(output)?.[1];
    const rest = output.replace(/^--- ini\n[\s\S]*\n--- end$/m, "");
    const bootedFrom = /^booted=(.+)$/m.exec(rest)?.[1];
    return {
      ...(ini !== undefined ? { ini } : {}),
      stockSaved: /^stock=saved$/m.test(rest),
      ...(bootedFrom ? { bootedFrom } : {}),
    };
  },
  plan(d, o) {
    const current = bootSourceOf(o.ini);
    if (d.source === "emmc") {
      if (current === "emmc" || current === undefined) return [];
      if (!o.stockSaved)
        throw new Error(
          `${BOOT_INI} is ours (${current}) and ${STOCK_INI} is missing: the stock file cannot be restored`,
        );
      const change: ChangeDraft = {
        summary: `boot from the eMMC: restore the stock boot.ini, reboot`,
        before: { boot: current },
        after: { boot: "emmc" },
        steps: [
          { kind: "run", command: `${replaceIni(STOCK_INI)} && rm -f ${STOCK_INI}` },
          { kind: "reboot" },
        ],
        risk: "reboot",
      };
      return [change];
    }
    if (o.ini !== undefined && o.ini === d.content) return [];
    if (o.ini === undefined) throw new Error(`${BOOT_INI} is missing: this is not a board's boot partition`);
    return [
      {
        summary: `boot from TFTP${current === "emmc" ? ` (stock boot.ini saved as ${STOCK_INI})` : ""}, reboot`,
        before: { boot: current },
        after: { boot: "tftp" },
        steps: [
          // Save the stock file once; it is put back, byte for byte, by `boot: emmc`.
          ...(current === "emmc" && !o.stockSaved
            ? [{ kind: "run" as const, command: `cp -p ${BOOT_INI} ${STOCK_INI} && sync` }]
            : []),
          {
            kind: "write",
            path: STAGED_INI,
            content: d.content ?? "",
            mode: "0644",
            owner: "root",
            group: "root",
          },
          { kind: "run", command: `${replaceIni(STAGED_INI)} && rm -f ${STAGED_INI}` },
          { kind: "reboot" },
        ],
        risk: "reboot",
      },
    ];
  },
};
