// Owns: package upgrades as a policy (none, security, all) and the reboot they may require. The
// observed fact is the list of upgradable packages and the age of the apt index, which the probe
// keeps in /var/cache/picotrader/updates while the files apt reads stay as they were. Runs:
// `apt-get update`, `apt-get upgrade` (or only the security upgrades), and a reboot when the node
// asks for one and the manifest allows it. Leaves alone: held packages, dist-upgrades, apt sources.
import type { ChangeDraft, Reconciler, Step } from "../src/engine/types.js";
import { cachedProbe, probeCacheFile } from "../src/transport/probe-cache.js";
import { APT, APT_STATE, STAMP } from "./packages.js";

/** The index is refreshed when older than this, so that the upgradable list means something. */
const MAX_INDEX_AGE_S = 24 * 3600;
/** The probe's cache of apt's answers: `apt-get -s upgrade` costs a small board seconds. */
const CACHE = probeCacheFile("updates");
/** Lists the upgradable packages from a security origin, as the simulation prints them. */
const SECURITY_UPGRADES = `apt-get -s upgrade | sed -n 's/^Inst \\([^ ]*\\) .*(.*[Ss]ecurity.*$/\\1/p'`;

export interface UpdatesDesired {
  policy: "none" | "security" | "all";
  reboot: "never" | "when-required";
}

export interface UpdatesObserved {
  /** Seconds since the newest package list was fetched; undefined when there is none. */
  indexAgeS?: number;
  /** Upgradable packages: name, and whether the new version comes from a security origin. */
  upgradable: { name: string; security: boolean }[];
  /** /var/run/reboot-required exists. */
  rebootRequired: boolean;
}

/**
 * The index's age, the upgradable packages and whether a reboot is required. The first two come
 * from apt (the newest list's time and a simulated upgrade), kept in `cache` while every file of
 * `state` stays as it was (`cachedProbe`): one `stat` then stands for the simulation. Pure.
 */
export function buildUpgradableProbe(cache: string, state: string[] = APT_STATE): string {
  const fill = `newest=$(find /var/lib/apt/lists ${STAMP} -maxdepth 1 -type f \\( -name '*_Packages*' -o -name apt-updated \\) -printf '%T@\\n' 2>/dev/null | sort -n | tail -n 1)
echo "newest=\${newest%.*}"
apt-get -s -o Debug::NoLocking=1 upgrade 2>/dev/null | sed -n 's/^Inst \\([^ ]*\\) .*(\\(.*\\))$/upgradable \\1 \\2/p'`;
  return `body=$(
${cachedProbe(cache, state, fill)}
) || exit $?
while IFS= read -r l; do
  case $l in
    newest=) ;;
    newest=*) echo "index-age=$(( $(date +%s) - \${l#newest=} ))" ;;
    *) [ -z "$l" ] || printf '%s\\n' "$l" ;;
  esac
done <<PICOTRADER_APT
$body
PICOTRADER_APT
[ -f /var/run/reboot-required ] && echo reboot-required
true`;
}

export const updates: Reconciler<UpdatesDesired, UpdatesObserved> = {
  name: "updates",
  rolling: true,
  after: ["packages"],
  applies: (_node, m) => m.updates !== undefined && m.updates.policy !== "none",
  desired: (_node, m) => ({ policy: m.updates?.policy ?? "none", reboot: m.updates?.reboot ?? "never" }),
  files: [CACHE],
  probe: () => buildUpgradableProbe(CACHE),
  parse(output) {
    const age = /^index-age=(\d+)$/m.exec(output)?.[1];
    return {
      ...(age !== undefined ? { indexAgeS: Number(age) } : {}),
      upgradable: [...output.matchAll(/^upgradable (\S+) (.*)$/gm)].map((m) => ({
        name: m[1] as string,
        security: /security/i.test(m[2] ?? ""),
      })),
      rebootRequired: /^reboot-required$/m.test(output),
    };
  },
  // The index age moves every second: a saved plan compares only whether it is stale.
  stableFacts: (o) => ({
    indexStale: o.indexAgeS === undefined || o.indexAgeS > MAX_INDEX_AGE_S,
    upgradable: o.upgradable,
    rebootRequired: o.rebootRequired,
  }),
  plan(d, o) {
    const relevant = o.upgradable.filter((p) => d.policy === "all" || p.security).map((p) => p.name);
    const stale = o.indexAgeS === undefined || o.indexAgeS > MAX_INDEX_AGE_S;
    const reboot: Step[] =
      d.reboot === "when-required" ? [{ kind: "reboot", onlyIf: "[ -f /var/run/reboot-required ]" }] : [];
    const changes: ChangeDraft[] = [];
    if (stale || relevant.length > 0) {
      const age = o.indexAgeS === undefined ? "none yet" : `${Math.round(o.indexAgeS / 3600)} h old`;
      changes.push({
        summary: [
          stale ? `refresh the apt index (${age})` : "",
          relevant.length > 0
            ? `upgrade ${relevant.join(", ")}`
            : `upgrade what the policy "${d.policy}" finds`,
          reboot.length > 0 ? "reboot if required" : "",
        ]
          .filter(Boolean)
          .join(", "),
        before: { upgradable: relevant, ...(stale ? { indexAge: age } : {}) },
        after: { upgradable: [] },
        steps: [
          { kind: "run", command: `${APT} update && mkdir -p /var/lib/picotrader && touch ${STAMP}` },
          {
            kind: "run",
            command:
              d.policy === "all"
                ? `${APT} upgrade`
                : `pkgs=$(${SECURITY_UPGRADES}); [ -z "$pkgs" ] || ${APT} install --only-upgrade -- $pkgs`,
          },
          ...reboot,
        ],
        risk: "restart",
      });
    } else if (o.rebootRequired && d.reboot === "when-required") {
      changes.push({
        summary: "reboot: the node says earlier upgrades require it",
        before: { rebootRequired: true },
        after: { rebootRequired: false },
        steps: [{ kind: "reboot" }],
        risk: "reboot",
      });
    }
    return changes;
  },
};
