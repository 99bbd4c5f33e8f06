import { createHash } from "node:crypto";

/** Where probes keep what they cache on the node (files 0600, root's). */
export const PROBE_CACHE_DIR = "/var/cache/picotrader";

/**
 * A probe snippet that prints what the shell code `fill` prints, kept in the file `file`
 * for as long as the files it reads stay as they were: the cache's first line is a key made of
 * the fill's own digest (another fill, another key) and each path's name, inode, size and ctime
 * (which a write, a rename, a chmod or `touch -r` all move, and no user can set back). While the
 * key matches, one `stat` and one `sed` stand for the fill. A fill that fails exits with its status
 * (its stderr is the section's) and is not kept; a cache that cannot be written only costs the
 * next probe the fill again. `paths` are shell words: a glob matching nothing is left out, so a
 * file appearing there changes the key too. Pure.
 */
export function cachedProbe(file: string, paths: string[], fill: string): string {
  const id = createHash("sha256").update(fill).digest("hex").slice(0, 16);
  return `c_key="${id} $(stat --printf '%n %i %s %z\\t' -- ${paths.join(" ")} 2>/dev/null)"
c_have=; [ -f ${file} ] && IFS= read -r c_have < ${file}
if [ "$c_have" = "$c_key" ]; then
  sed 1d ${file}
else
  c_out=$(
${fill}
) || exit $?
  (umask 077 && mkdir -p ${file.slice(0, file.lastIndexOf("/"))} && printf '%s\\n%s\\n' "$c_key" "$c_out" > ${file}.$$ && mv -f ${file}.$$ ${file}) 2>/dev/null || rm -f ${file}.$$
  printf '%s\\n' "$c_out"
fi`;
}
