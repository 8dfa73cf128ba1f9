/** Atomic file replacement (core/fs.ts): whole files or none, hidden temp files, cleanup on failure, stale temps of dead writers. */
import { mkdir, readdir, readFile, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { isProcessAlive, removeStaleTemps, replaceAtomically, writeFileAtomic } from "../src/core/fs.ts";
import { tempDataDir } from "./support/dirs.ts";

/** What replaceAtomically hands a writer for `data.parquet` in this process: `.data.parquet.<our pid>-<hex>.tmp`. */
const OUR_TEMP = new RegExp(`^\\.data\\.parquet\\.${process.pid}-[0-9a-f]{12}\\.tmp$`);

for (const durable of [true, false]) {
  test(`writeFileAtomic (durable: ${durable}) creates and then replaces the target whole, leaving no other file`, async (t) => {
    const dir = await tempDataDir(t);
    const target = path.join(dir, "state.json");
    await writeFileAtomic(target, "first\n", { durable });
    assert.equal(await readFile(target, "utf8"), "first\n");
    await writeFileAtomic(target, new TextEncoder().encode("second\n"), { durable });
    assert.equal(await readFile(target, "utf8"), "second\n");
    assert.deepEqual(await readdir(dir), ["state.json"]);
  });
}

test("replaceAtomically lets the writer write a hidden temp file beside the target, named with our pid, that a *.parquet glob never matches", async (t) => {
  const dir = await tempDataDir(t);
  const target = path.join(dir, "data.parquet");
  let seen: { temp: string; listing: string[] } | undefined;
  await replaceAtomically(
    target,
    async (temp) => {
      await writeFile(temp, "new");
      seen = { temp, listing: await readdir(dir) };
    },
    { durable: true },
  );
  assert.ok(seen);
  assert.equal(path.dirname(seen.temp), dir);
  assert.match(path.basename(seen.temp), OUR_TEMP);
  assert.ok(!path.basename(seen.temp).endsWith(".parquet"));
  // While it was being written the target did not exist yet: readers saw nothing, not half a file.
  assert.deepEqual(seen.listing, [path.basename(seen.temp)]);
  assert.equal(await readFile(target, "utf8"), "new");
  assert.deepEqual(await readdir(dir), ["data.parquet"]);
});

for (const durable of [true, false]) {
  test(`a writer that fails (durable: ${durable}) leaves the old target untouched and no temp file behind`, async (t) => {
    const dir = await tempDataDir(t);
    const target = path.join(dir, "report.html");
    await writeFile(target, "old");
    const failing = replaceAtomically(
      target,
      async (temp) => {
        await writeFile(temp, "half");
        throw new Error("disk on fire");
      },
      { durable },
    );
    await assert.rejects(failing, /disk on fire/);
    assert.equal(await readFile(target, "utf8"), "old");
    assert.deepEqual(await readdir(dir), ["report.html"]);
  });
}

test("a rename that fails (the target is a non-empty directory) removes the temp file and rejects", async (t) => {
  const dir = await tempDataDir(t);
  const target = path.join(dir, "taken");
  await mkdir(target);
  await writeFile(path.join(target, "inside"), "x");
  await assert.rejects(writeFileAtomic(target, "data", { durable: true }), (e: unknown) => ["EISDIR", "ENOTEMPTY", "EEXIST"].includes((e as NodeJS.ErrnoException).code ?? ""));
  assert.deepEqual(await readdir(dir), ["taken"]);
});

test("removeStaleTemps removes temps of dead writers and hours-old ones, and keeps a live writer's, other targets' temps and real files", async (t) => {
  const dir = await tempDataDir(t);
  const dead = ".data.parquet.2147483646-deadbeef0000.tmp"; // no such pid
  const noPid = ".data.parquet.garbage.tmp";
  const liveRecent = `.data.parquet.${process.pid}-aaaaaaaaaaaa.tmp`;
  const liveOld = `.data.parquet.${process.pid}-bbbbbbbbbbbb.tmp`;
  const otherTarget = ".state.json.2147483646-deadbeef0000.tmp";
  for (const name of [dead, noPid, liveRecent, liveOld, otherTarget, "data.parquet"]) await writeFile(path.join(dir, name), "x");
  const old = new Date(Date.now() - 3 * 3600_000);
  await utimes(path.join(dir, liveOld), old, old);

  await removeStaleTemps(dir, "data.parquet", 60 * 60_000);
  assert.deepEqual((await readdir(dir)).sort(), [liveRecent, otherTarget, "data.parquet"].sort());
});

test("a temp file replaceAtomically is writing is not stale while its writer lives", async (t) => {
  const dir = await tempDataDir(t);
  const target = path.join(dir, "data.parquet");
  await replaceAtomically(
    target,
    async (temp) => {
      await writeFile(temp, "new");
      await removeStaleTemps(dir, "data.parquet", 60 * 60_000);
      assert.deepEqual(await readdir(dir), [path.basename(temp)]);
    },
    { durable: true },
  );
  assert.equal(await readFile(target, "utf8"), "new");
});

test("a directory that does not exist has no stale temps", async (t) => {
  const dir = await tempDataDir(t);
  await removeStaleTemps(path.join(dir, "missing"), "data.parquet", 1000);
  assert.deepEqual(await readdir(dir), []);
});

test("isProcessAlive is true for this process and false for a pid that cannot exist", () => {
  assert.equal(isProcessAlive(process.pid), true);
  assert.equal(isProcessAlive(2147483646), false);
});

test("writers of one target at once each get their own temp file, named with our pid", async (t) => {
  const dir = await tempDataDir(t);
  const target = path.join(dir, "data.parquet");
  const temps: string[] = [];
  const write = async (temp: string) => {
    temps.push(path.basename(temp));
    await writeFile(temp, temp);
  };
  await Promise.all(Array.from({ length: 50 }, () => replaceAtomically(target, write, { durable: false })));
  assert.equal(new Set(temps).size, 50);
  for (const temp of temps) assert.match(temp, OUR_TEMP);
  assert.deepEqual(await readdir(dir), ["data.parquet"]);
});
