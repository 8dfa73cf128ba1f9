/** docs/alerts.yml: promtool accepts it, and `promtool test rules` fixtures fire each alert and none. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RULES = path.join(ROOT, "docs", "alerts.yml");
const FIXTURES = path.join(ROOT, "test", "fixtures", "alerts");
const FIRES_EACH = path.join(FIXTURES, "fires-each.test.yml");
const FIRES_NONE = path.join(FIXTURES, "fires-none.test.yml");

interface Run {
  status: number | null;
  output: string;
}

function promtool(args: string[]): Run {
  const res = spawnSync("promtool", args, { encoding: "utf8", timeout: 60_000 });
  return { status: res.status, output: `${res.stdout ?? ""}${res.stderr ?? ""}` };
}

/** True (and the test skipped) when promtool is missing. */
function noPromtool(t: TestContext): boolean {
  if (spawnSync("sh", ["-c", "command -v promtool"]).status === 0) return false;
  t.skip("promtool not installed (Debian package prometheus)");
  return true;
}

/** The alert names declared in a rules file, in order. */
function alertNames(rules: string): string[] {
  return [...rules.matchAll(/^\s*- alert: (\S+)\s*$/gm)].map((m) => m[1] as string);
}

/** alertname -> number of expected alerts, for each alert_rule_test of a promtool test file. */
function expectations(fixture: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const block of fixture.split(/^\s*- eval_time: /m).slice(1)) {
    const name = /^\s*alertname: (\S+)\s*$/m.exec(block)?.[1];
    assert.ok(name, `an alert_rule_test without alertname:\n${block}`);
    const empty = /^\s*exp_alerts: \[\]\s*$/m.test(block);
    out.set(name, empty ? 0 : [...block.matchAll(/- exp_labels:/g)].length);
  }
  return out;
}

/** Runs `promtool test rules` on a copy of `fixture` whose rule file is `rules` (text), in a temp dir. */
async function testRulesWith(t: TestContext, rules: string, fixture: string): Promise<Run> {
  const dir = await mkdtemp(path.join(tmpdir(), "sluice-alerts-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, "alerts.yml"), rules);
  await writeFile(path.join(dir, "case.test.yml"), fixture.replace("../../../docs/alerts.yml", "alerts.yml"));
  return promtool(["test", "rules", path.join(dir, "case.test.yml")]);
}

test("promtool check rules accepts docs/alerts.yml", (t) => {
  if (noPromtool(t)) return;
  const run = promtool(["check", "rules", RULES]);
  assert.equal(run.status, 0, run.output);
  assert.match(run.output, /SUCCESS: 6 rules found/);
});

test("promtool check rules rejects a rule file with a broken expression", async (t) => {
  if (noPromtool(t)) return;
  const broken = (await readFile(RULES, "utf8")).replace("> 26 * 3600", "> 26 * ");
  const dir = await mkdtemp(path.join(tmpdir(), "sluice-alerts-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, "alerts.yml"), broken);
  const run = promtool(["check", "rules", path.join(dir, "alerts.yml")]);
  assert.notEqual(run.status, 0, run.output);
});

test("every alert fires under the fires-each fixture with its expected labels and annotations", async (t) => {
  if (noPromtool(t)) return;
  const names = alertNames(await readFile(RULES, "utf8"));
  assert.deepEqual(names, ["SluiceJobNoRecentSuccess", "SluiceLastSuccessMetricMissing", "SluicePartitionFailed", "SluiceCheckBlocked", "SluiceQuarantineShareHigh", "SluiceCheckAnomaly"]);
  // The fixture must assert each alert firing exactly once, or promtool would not check it.
  const expected = expectations(await readFile(FIRES_EACH, "utf8"));
  assert.deepEqual([...expected.keys()].sort(), [...names].sort());
  for (const [name, count] of expected) assert.equal(count, 1, `${name} should be expected to fire once`);

  const run = promtool(["test", "rules", FIRES_EACH]);
  assert.equal(run.status, 0, run.output);
  assert.match(run.output, /SUCCESS/);
});

test("no alert fires under the fires-none fixture of healthy series and near misses", async (t) => {
  if (noPromtool(t)) return;
  const names = alertNames(await readFile(RULES, "utf8"));
  const expected = expectations(await readFile(FIRES_NONE, "utf8"));
  assert.deepEqual([...expected.keys()].sort(), [...names].sort());
  for (const [name, count] of expected) assert.equal(count, 0, `${name} should be expected not to fire`);

  const run = promtool(["test", "rules", FIRES_NONE]);
  assert.equal(run.status, 0, run.output);
});

test("the fires-each fixture notices each alert whose rule is gone", async (t) => {
  if (noPromtool(t)) return;
  const rules = await readFile(RULES, "utf8");
  const names = alertNames(rules);
  // One promtool run with every alert renamed: each of its six expectations must fail on its own.
  let renamed = rules;
  for (const name of names) renamed = renamed.replace(`- alert: ${name}\n`, `- alert: ${name}Renamed\n`);
  const run = await testRulesWith(t, renamed, await readFile(FIRES_EACH, "utf8"));
  assert.notEqual(run.status, 0, run.output);
  for (const name of names) assert.match(run.output, new RegExp(`alertname: ${name},`), `renaming ${name} away went unnoticed`);
});

test("the fires-none fixture fails when the quarantine threshold drops to 0.1%", async (t) => {
  if (noPromtool(t)) return;
  const rules = (await readFile(RULES, "utf8")).replace("> 0.01", "> 0.001");
  const run = await testRulesWith(t, rules, await readFile(FIRES_NONE, "utf8"));
  assert.notEqual(run.status, 0, run.output);
  assert.match(run.output, /SluiceQuarantineShareHigh/);
});

test("the pending near misses of the fires-none fixture fire once their for: has passed", async (t) => {
  if (noPromtool(t)) return;
  const later = (await readFile(FIRES_NONE, "utf8")).replaceAll("eval_time: 27h\n", "eval_time: 27h10m\n");
  const run = await testRulesWith(t, await readFile(RULES, "utf8"), later);
  assert.notEqual(run.status, 0, run.output);
  assert.match(run.output, /alertname="SluiceJobNoRecentSuccess", job="orders"/);
  assert.match(run.output, /alertname="SluicePartitionFailed", job="orders"/);
});

test("every alert has a severity, a for:, and a description naming the job and the commands to run next", async () => {
  const rules = await readFile(RULES, "utf8");
  const blocks = rules.split(/^\s*- alert: /m).slice(1);
  assert.equal(blocks.length, 6);
  for (const block of blocks) {
    const name = block.split("\n")[0];
    assert.match(block, /^\s*for: \d+m$/m, `${name}: for:`);
    assert.match(block, /^\s*severity: (warning|critical)$/m, `${name}: severity`);
    assert.match(block, /^\s*summary: .*\{\{ \$labels\.job \}\}/m, `${name}: summary names the job`);
    assert.match(block, /`sluice status \{\{ \$labels\.job \}\}`/, `${name}: says to run sluice status`);
    assert.match(block, /`sluice catch-up \{\{ \$labels\.job \}\}`/, `${name}: says to run sluice catch-up`);
  }
});
