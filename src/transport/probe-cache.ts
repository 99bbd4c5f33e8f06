import { createHash } from "node:crypto";

/** Where probes keep what they cache on the node (files 0600, root's). */
export const PROBE_CACHE_DIR = "/var/cache/picotrader";

/** The file a concern's probe keeps its cache in: to declare in its `files` too. Pure. */
export function probeCacheFile(concern: string): string {
  return `${PROBE_CACHE_DIR}/${concern}`;
}

/**
 * A probe snippet that prints what the shell code `fill` prints, kept in the file `file`
 * for as long as the files it reads stay as they were: the cache's first line is a key made of
 * the fill's own digest (another fill, another key), the shell words `also` (what else the fill
 * reads, as the names it is run for) and the digest of each path's name, inode, size and ctime
 * (which a write, a rename, a chmod or `touch -r` all move, and no user can set back): a short
 * line, because dash strips a prefix in time quadratic in its length (a 7 KB key cost 50 ms).
 * While the key matches, one `stat` and one `sha256sum` stand for the fill (the cache itself is
 * read with `file_read`: from the probe's file table when the concern declares
 * `probeCacheFile(name)` in its `files`). A fill that fails exits with its status (its stderr is
 * the section's) and is not kept; a cache that cannot be written only costs the next probe the
 * fill again. `paths` are shell words: a glob matching nothing is left out, so a file appearing
 * there changes the key too. Pure.
 */
export function cachedProbe(file: string, paths: string[], fill: string, also = ""): string {
  const id = createHash("sha256").update(fill).digest("hex").slice(0, 16);
  return `c_key="${id}${also && ` ${also}`} $(stat --printf '%n %i %s %z\\t' -- ${paths.join(" ")} 2>/dev/null | sha256sum)"
c_have=; file_read ${file} && c_have=\${file_body%%"$nl"*}
if [ "$c_have" = "$c_key" ]; then
  printf '%s' "\${file_body#"$c_have$nl"}"
else
  c_out=$(
${fill}
) || exit $?
  (umask 077 && mkdir -p ${file.slice(0, file.lastIndexOf("/"))} && printf '%s\\n%s\\n' "$c_key" "$c_out" > ${file}.$$ && mv -f ${file}.$$ ${file}) 2>/dev/null || rm -f ${file}.$$
  printf '%s\\n' "$c_out"
fi`;
}
