import { dirname } from "node:path";
import { simpleGit } from "simple-git";

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
