// The host limit a big lab needs: raised with the host's value recorded once, put back afterwards,
// never lowered. Exercised on a stand-in /proc/sys tree.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import {
  limitPaths,
  neededInotifyInstances,
  raiseInotifyLimit,
  restoreInotifyLimit,
} from "../../src/lab/limits.js";
import { tempDir } from "../helpers/temp.js";

t.test("the limit for N nodes, never below the host's", async (t) => {
  t.equal(neededInotifyInstances(3, 128), 164);
  t.equal(neededInotifyInstances(30, 128), 488);
  t.equal(neededInotifyInstances(30, 8192), 8192, "a host that allows more keeps its value");
});

t.test("raised once with the host's value saved, restored after the last lab", async (t) => {
  const root = tempDir(t, "limits");
  mkdirSync(join(root, "proc", "fs", "inotify"), { recursive: true });
  const paths = limitPaths(root, join(root, "proc"));
  writeFileSync(paths.sysctl, "128\n");
  t.match(
    raiseInotifyLimit(paths, 30),
    "raised fs.inotify.max_user_instances from 128 to 488 for 30 lab nodes",
  );
  t.equal(readFileSync(paths.sysctl, "utf8").trim(), "488");
  t.match(raiseInotifyLimit(paths, 40), "from 488 to 608", "a second lab raises it further");
  t.equal(raiseInotifyLimit(paths, 10), undefined, "enough already: nothing written");
  t.equal(restoreInotifyLimit(paths), "fs.inotify.max_user_instances is 128 again", "the host's own value");
  t.equal(readFileSync(paths.sysctl, "utf8").trim(), "128");
  t.notOk(existsSync(paths.saved));
  t.equal(restoreInotifyLimit(paths), undefined, "nothing to put back twice");
});

t.test("the first lab on a machine: the lab's state folder is made for the host's value", async (t) => {
  const root = tempDir(t, "limits-fresh");
  mkdirSync(join(root, "proc", "fs", "inotify"), { recursive: true });
  const paths = limitPaths(join(root, "var", "lib", "picotrader-lab"), join(root, "proc"));
  writeFileSync(paths.sysctl, "128\n");
  t.match(raiseInotifyLimit(paths, 4), "from 128 to 176");
  t.strictSame(JSON.parse(readFileSync(paths.saved, "utf8")), { maxUserInstances: 128 });
  t.equal(restoreInotifyLimit(paths), "fs.inotify.max_user_instances is 128 again");
});
