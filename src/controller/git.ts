import { basename, dirname, join, resolve } from "node:path";
import { simpleGit } from "simple-git";
import { PicoError } from "../errors.js";

/**
 * The Git commit the manifest file comes from: "<sha>", or "<sha>+dirty" when the file has
 * uncommitted changes; undefined when it is not in a Git repository. Reads only.
 */
export async function readManifestCommit(file: string): Promise<string | undefined> {
  const git = simpleGit(dirname(file));
  try {
    if (!(await git.checkIsRepo())) return undefined;
    const sha = (await git.revparse(["HEAD"])).trim();
    const dirty = (await git.status([file])).files.length > 0;
    return dirty ? `${sha}+dirty` : sha;
  } catch (err) {
    // A repository without a first commit has no HEAD: nothing to record yet.
    if (/unknown revision|ambiguous argument 'HEAD'/.test((err as Error).message)) return undefined;
    throw err;
  }
}

/** The manifest as its repository's HEAD has it, and whether the working file differs from it. */
export type CommittedManifest =
  { kind: "outside-git" } | { kind: "committed"; sha: string; text: string; dirty: boolean };

/**
 * Reads the manifest file as committed at HEAD (`git show HEAD:./FILE`): what watch mode applies.
 * Outside a Git repository: `outside-git`. A file that HEAD does not have is an error. Reads only.
 */
export async function readCommittedManifest(file: string): Promise<CommittedManifest> {
  const git = simpleGit(dirname(file));
  if (!(await git.checkIsRepo())) return { kind: "outside-git" };
  let sha: string;
  let text: string;
  try {
    sha = (await git.revparse(["HEAD"])).trim();
    text = await git.show([`HEAD:./${basename(file)}`]);
  } catch (err) {
    throw new PicoError(
      `${file} is not committed yet: watch applies the commit HEAD points to (commit the file, or pass --allow-dirty to apply it as saved)`,
      { cause: err },
    );
  }
  const dirty = (await git.status([file])).files.length > 0;
  return { kind: "committed", sha, text, dirty };
}

/** The files whose change means a new commit of the manifest's repository (HEAD, branches, packed refs). */
export async function readRefPaths(file: string): Promise<string[]> {
  const git = simpleGit(dirname(file));
  if (!(await git.checkIsRepo())) return [];
  const gitDir = resolve(dirname(file), (await git.revparse(["--git-dir"])).trim());
  return [join(gitDir, "HEAD"), join(gitDir, "refs", "heads"), join(gitDir, "packed-refs")];
}
