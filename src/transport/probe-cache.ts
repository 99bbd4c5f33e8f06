import { createHash } from "node:crypto";

/** Where probes keep what they cache on the node (files 0600, root's). */
export const PROBE_CACHE_DIR = "/var/cache/picotrader";

/** The file a concern's probe keeps its cache in: to declare in its `files` too. Pure. */
export function probeCacheFile(concern: string): string {
  return `${PROBE_CACHE_DIR}/${concern}`;
}

/**
 * A probe snippet that prints what the shell code `fill` prints, kept in the file `file`
 * for as long as the files it reads stay as they were: the cache's last line is a key made of
 * the fill's own digest (another fill, another key), the shell words `also` (what else the fill
 * reads, as the names it is run for) and each path's name, inode, size and ctime as `stat` prints
 * them (which a write, a rename, a chmod or `touch -r` all move, and no user can set back). The key
 * is last because the shell then tells and strips it in time linear in its length: a suffix is
 * matched from the last newline, where dash strips a prefix in time quadratic in its length (a
 * 7 KB key first cost 50 ms that way, then a `sha256sum` of it 2.4 ms, its pipe's forks included).
 * While the key matches, one `stat` stands for the fill (the cache itself is read with `file_read`:
 * from the probe's file table when the concern declares `probeCacheFile(name)` in its `files`).
 * A fill that fails exits with its status (its stderr is the section's) and is not kept; a cache
 * that cannot be written only costs the next probe the fill again. `paths` are shell words: a glob
 * matching nothing is left out, so a file appearing there changes the key too. Pure.
 */
export function cachedProbe(file: string, paths: string[], fill: string, also = ""): string {
  const id = createHash("sha256").update(fill).digest("hex").slice(0, 16);
  return `c_key="${id}${also && ` ${also}`} $(stat --printf '%n %i %s %z\\t' -- ${paths.join(" ")} 2>/dev/null)"
c_hit=; file_read ${file} && case $file_body in *"$nl$c_key") c_hit=1 ;; esac
if [ -n "$c_hit" ]; then
  printf '%s\\n' "\${file_body%"$nl$c_key"}"
else
  c_out=$(
${fill}
) || exit $?
  (umask 077 && mkdir -p ${file.slice(0, file.lastIndexOf("/"))} && printf '%s\\n%s' "$c_out" "$c_key" > ${file}.$$ && mv -f ${file}.$$ ${file}) 2>/dev/null || rm -f ${file}.$$
  printf '%s\\n' "$c_out"
fi`;
}
