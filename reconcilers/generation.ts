// Owns: the build generation of a node. When the manifest's is higher than the one the node
// recorded, the node is rebuilt: a boot.ini that makes u-boot fetch the image parts from the TFTP
// server, verify each one's SHA-256, write them to the eMMC and reset; then a reboot. The node comes
// back as a factory image, and the engine bootstraps and converges it in the same run. Runs: writes
// on the boot partition, a reboot. Leaves alone: everything else (the node is wiped anyway).
import type { Manifest, NodeSpec, Reconciler } from "../src/engine/types.js";
import { RECORD_PATH } from "../src/engine/record.js";
import { BOOT_DIR, BOOT_INI, replaceIni, STAGED_INI, STOCK_INI, tftpServerOf } from "./boot.js";

const FAILED = `${BOOT_DIR}/picotrader-reimage.failed`;

export interface GenerationDesired {
  generation: number;
  /** The re-imaging boot.ini; undefined when no TFTP server or no image parts are declared. */
  reimageIni?: string;
  /** Why there is no re-imaging boot.ini. */
  missing?: string;
}

export interface GenerationObserved {
  /** The generation the node recorded; undefined on a node never applied to (factory-fresh). */
  recorded?: number;
  /** What the board left after a failed re-imaging, if anything. */
  reimageFailed?: string;
}

/** The boot.ini that re-images a node from the TFTP server, part by part, verifying each. Pure. */
export function buildReimageBootIni(
  node: NodeSpec,
  server: string,
  parts: readonly { name: string; sha256: string }[],
  generation: number,
  /** The size tftp-prepare cut the parts to, in bytes (a multiple of 512): part i goes to block i × size / 512. */
  partSize: number,
): string {
  const blocks = partSize / 512;
  return [
    "ODROIDC2-UBOOT-CONFIG",
    "",
    `# picotrader-boot: reimage from ${server}`,
    `# Managed by picotrader: re-image ${node.name} for generation ${generation}. Every part is fetched`,
    "# and verified before it is written; a failure leaves picotrader-reimage.failed and boots the",
    "# saved stock boot.ini.emmc.",
    `setenv bootlabel "picotrader: re-image ${node.name} from TFTP ${server} (generation ${generation})"`,
    `setenv serverip "${server}"`,
    `setenv ipaddr "${node.address}"`,
    'setenv loadaddr "0x1080000"',
    ...parts.flatMap((p, i) => [
      `tftp \${loadaddr} c2/${p.name}`,
      `hash verify sha256 \${loadaddr} \${filesize} ${p.sha256}`,
      `mmc write \${loadaddr} 0x${(i * blocks).toString(16)} 0x${blocks.toString(16)}`,
    ]),
    "reset",
    "",
  ].join("\n");
}

export const generation: Reconciler<GenerationDesired, GenerationObserved> = {
  name: "generation",
  applies: () => true,
  desired(node: NodeSpec, m: Manifest, inputs) {
    const wanted = node.generation ?? 1;
    const server = tftpServerOf(m);
    if (!server || !m.tftp)
      return { generation: wanted, missing: "no node has the tftp role with a tftp section" };
    if (inputs.imageParts.length === 0)
      return { generation: wanted, missing: `no c2/SHA256SUMS under tftp.root (${m.tftp.root})` };
    return {
      generation: wanted,
      reimageIni: buildReimageBootIni(node, server.address, inputs.imageParts, wanted, inputs.partSize),
    };
  },
  // The generation our own record (JSON.stringify's) holds, read from the file table.
  files: [RECORD_PATH],
  probe: () => `if file_read ${RECORD_PATH}; then case $file_body in *'"generation":'*)
  g=\${file_body#*'"generation":'}; g=\${g#"\${g%%[! ]*}"}; printf 'recorded=%s\\n' "\${g%%[!0-9]*}" ;; esac; fi
[ -f ${FAILED} ] && printf 'failed=%s\\n' "$(head -n 1 ${FAILED})"
true`,
  parse(output) {
    const recorded = /^recorded=(\d+)$/m.exec(output)?.[1];
    const failed = /^failed=(.*)$/m.exec(output)?.[1];
    return {
      ...(recorded !== undefined ? { recorded: Number(recorded) } : {}),
      ...(failed !== undefined ? { reimageFailed: failed } : {}),
    };
  },
  plan(d, o) {
    // A node that never recorded a generation is taken as built at the wanted one (factory-fresh).
    if (o.recorded === undefined || o.recorded === d.generation) return [];
    if (d.generation < o.recorded)
      throw new Error(
        `generation ${d.generation} is lower than the ${o.recorded} the node recorded: generations only go up`,
      );
    if (d.reimageIni === undefined) throw new Error(`a rebuild needs the TFTP server's image: ${d.missing}`);
    return [
      {
        summary: `REBUILD: re-image the node from TFTP (generation ${o.recorded} -> ${d.generation}); everything on it is lost`,
        before: { generation: o.recorded, ...(o.reimageFailed ? { lastFailure: o.reimageFailed } : {}) },
        after: { generation: d.generation },
        steps: [
          {
            kind: "run",
            command: `rm -f ${FAILED}; [ -f ${STOCK_INI} ] || cp -p ${BOOT_INI} ${STOCK_INI}`,
          },
          {
            kind: "write",
            path: STAGED_INI,
            content: d.reimageIni,
            mode: "0644",
            owner: "root",
            group: "root",
          },
          {
            kind: "run",
            command: `${replaceIni(STAGED_INI)} && rm -f ${STAGED_INI}`,
          },
          { kind: "reboot" },
          // Back on a new boot: a board that could not re-image says why, and runs its old system.
          {
            kind: "run",
            command: `if [ -f ${FAILED} ]; then echo "re-imaging failed: $(cat ${FAILED})" >&2; exit 1; fi`,
          },
        ],
        risk: "destroy",
      },
    ];
  },
};
