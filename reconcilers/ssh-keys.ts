// Owns: the admin user's ~/.ssh/authorized_keys, exactly the declared keys, with ~/.ssh 0700 and
// the file 0600, both owned by the user. Runs: install -d, one atomic write. Leaves alone: other
// users' keys, root's keys (root login is the sshd concern), other files in ~/.ssh.
import type { ChangeDraft, Reconciler, Step } from "../src/engine/types.js";
import { shellQuote } from "../src/transport/quote.js";

export interface KeysDesired {
  user: string;
  keys: string[];
}

export interface KeysObserved {
  /** The user's home; undefined when the user does not exist yet. */
  home?: string;
  /** mode (octal) and owner of ~/.ssh; undefined when missing. */
  dir?: { mode: string; owner: string };
  file?: { mode: string; owner: string; keys: string[] };
}

/** A key line compared on what sshd reads: spacing folded; blank and comment lines dropped. Pure. */
export function normaliseKeys(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim().split(/\s+/).join(" "))
    .filter((l) => l !== "" && !l.startsWith("#"));
}

export const sshKeys: Reconciler<KeysDesired, KeysObserved> = {
  name: "ssh-keys",
  after: ["admin-user"],
  applies: () => true,
  desired: (_node, m) => ({ user: m.admin.user, keys: m.admin.sshKeys.flatMap(normaliseKeys) }),
  probe: (d) => `p=$(getent passwd ${shellQuote(d.user)}); h=
[ -z "$p" ] || IFS=: read -r _ _ _ _ _ h _ <<PICOTRADER_PASSWD
$p
PICOTRADER_PASSWD
[ -n "$h" ] || exit 0
printf 'home %s\\n' "$h"
k="$h/.ssh/authorized_keys"
if [ -f "$k" ]; then
  s=$(stat -c '%a %U' -- "$h/.ssh" "$k") || exit 1
  printf 'dir %s\\nfile %s\\n' "\${s%%"$nl"*}" "\${s#*"$nl"}"
  while IFS= read -r l || [ -n "$l" ]; do printf '| %s\\n' "$l"; l=; done < "$k"
elif [ -d "$h/.ssh" ]; then
  stat -c 'dir %a %U' -- "$h/.ssh"
fi
true`,
  parse(output) {
    const o: KeysObserved = {};
    const lines: string[] = [];
    for (const line of output.split("\n")) {
      const [tag, a, b] = line.split(" ");
      if (tag === "home") o.home = line.slice(5);
      else if (tag === "dir" && a && b) o.dir = { mode: a.padStart(4, "0"), owner: b };
      else if (tag === "file" && a && b) o.file = { mode: a.padStart(4, "0"), owner: b, keys: [] };
      else if (line.startsWith("| ") || line === "|") lines.push(line.slice(2));
    }
    if (o.file) o.file.keys = normaliseKeys(lines.join("\n"));
    return o;
  },
  plan(d, o) {
    const home = o.home ?? `/home/${d.user}`;
    const dirOk = o.dir?.mode === "0700" && o.dir.owner === d.user;
    const fileOk = o.file?.mode === "0600" && o.file.owner === d.user;
    const keysOk =
      o.file !== undefined &&
      o.file.keys.length === d.keys.length &&
      o.file.keys.every((k, i) => k === d.keys[i]);
    if (dirOk && fileOk && keysOk) return [];
    const steps: Step[] = [];
    if (!dirOk)
      steps.push({
        kind: "run",
        command: `install -d -m 0700 -o ${shellQuote(d.user)} -g ${shellQuote(d.user)} ${shellQuote(`${home}/.ssh`)}`,
      });
    steps.push({
      kind: "write",
      path: `${home}/.ssh/authorized_keys`,
      content: d.keys.map((k) => `${k}\n`).join(""),
      mode: "0600",
      owner: d.user,
      group: d.user,
    });
    const added = d.keys.filter((k) => !o.file?.keys.includes(k)).length;
    const removed = (o.file?.keys ?? []).filter((k) => !d.keys.includes(k)).length;
    const what = [
      added > 0 ? `${added} to add` : "",
      removed > 0 ? `${removed} to remove` : "",
      !dirOk || !fileOk ? "modes/owner" : "",
    ]
      .filter(Boolean)
      .join(", ");
    const change: ChangeDraft = {
      summary: `authorized_keys of ${d.user}: ${what || "reorder"}`,
      before: { ...(o.dir ? { dir: o.dir } : {}), ...(o.file ? { file: o.file } : {}) },
      after: { dir: { mode: "0700", owner: d.user }, file: { mode: "0600", owner: d.user, keys: d.keys } },
      steps,
      risk: "access",
      guard: { paths: [`${home}/.ssh/authorized_keys`], reactivate: [] },
    };
    return [change];
  },
};
