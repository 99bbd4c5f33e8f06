// Owns: /etc/docker/daemon.json (compared as JSON) and the docker service: enabled and running.
// Runs: one atomic write of daemon.json, `systemctl restart docker` only when daemon.json changed,
// else `systemctl enable --now docker`. Leaves alone: installing Docker (the packages concern),
// images, containers, networks, and drop-ins of docker.service.
import { isDeepStrictEqual } from "node:util";
import type { ChangeDraft, Reconciler, Step } from "../src/engine/types.js";
import { buildServiceStateProbe, parseServiceState } from "./lib/service.js";

/** daemon.json when the manifest declares none: what the kubelet expects of Docker. */
export const DEFAULT_DOCKER_DAEMON = {
  "exec-opts": ["native.cgroupdriver=systemd"],
  "log-driver": "json-file",
  "log-opts": { "max-size": "100m", "max-file": "3" },
};

const DAEMON_JSON = "/etc/docker/daemon.json";

export interface DockerDesired {
  daemon: Record<string, unknown>;
}

export interface DockerObserved {
  /** daemon.json as JSON; undefined when the file is missing; `invalid` when it does not parse. */
  daemon?: unknown;
  invalid?: string;
  active: boolean;
  enabled: boolean;
}

export const docker: Reconciler<DockerDesired, DockerObserved> = {
  name: "docker",
  after: ["packages"],
  applies: (_node, m) => m.docker !== undefined,
  desired: (_node, m) => ({ daemon: m.docker?.daemon ?? DEFAULT_DOCKER_DAEMON }),
  units: ["docker"],
  files: [DAEMON_JSON],
  probe: () => `${buildServiceStateProbe("docker")}
if [ -f ${DAEMON_JSON} ]; then echo '--- daemon.json'; file_text ${DAEMON_JSON}; fi`,
  parse(output) {
    const [head = "", json] = output.split(/^--- daemon\.json\n/m);
    const observed: DockerObserved = parseServiceState(head);
    if (json === undefined) return observed;
    try {
      return { ...observed, daemon: JSON.parse(json) as unknown };
    } catch (err) {
      return { ...observed, invalid: (err as Error).message };
    }
  },
  plan(d, o) {
    const changes: ChangeDraft[] = [];
    const configWrong = o.invalid !== undefined || !isDeepStrictEqual(o.daemon, d.daemon);
    if (configWrong) {
      const write: Step = {
        kind: "write",
        path: DAEMON_JSON,
        content: JSON.stringify(d.daemon, null, 2) + "\n",
        mode: "0644",
        owner: "root",
        group: "root",
      };
      changes.push({
        summary: `${DAEMON_JSON} ${o.daemon === undefined && o.invalid === undefined ? "created" : "rewritten"}; restart docker`,
        before: {
          daemon: o.invalid !== undefined ? `(invalid JSON: ${o.invalid})` : (o.daemon ?? "(missing)"),
        },
        after: { daemon: d.daemon },
        steps: [write, { kind: "run", command: "systemctl enable docker && systemctl restart docker" }],
        risk: "restart",
      });
    } else if (!o.active || !o.enabled) {
      changes.push({
        summary: [o.enabled ? "" : "enable docker", o.active ? "" : "start docker"]
          .filter(Boolean)
          .join(", "),
        before: { active: o.active, enabled: o.enabled },
        after: { active: true, enabled: true },
        steps: [{ kind: "run", command: "systemctl enable --now docker" }],
      });
    }
    return changes;
  },
};
