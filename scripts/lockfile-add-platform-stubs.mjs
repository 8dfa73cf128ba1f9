// The npm registry reachable here only serves the linux-x64 native packages, so `npm install`
// leaves other platforms' optional bindings out of package-lock.json and `npm ci` then refuses the
// lockfile ("Missing: ... from lock file"). This adds an os/cpu-tagged stub entry for each missing
// optional platform package; npm skips them on this platform. Run after regenerating the lockfile.
import { readFileSync, writeFileSync } from "node:fs";

const platforms = {
  "linux-arm64-musl": { os: ["linux"], cpu: ["arm64"], libc: ["musl"] },
  "linux-arm64-gnu": { os: ["linux"], cpu: ["arm64"], libc: ["glibc"] },
  "linux-arm64": { os: ["linux"], cpu: ["arm64"], libc: ["glibc"] },
  "linux-arm": { os: ["linux"], cpu: ["arm"] },
  "darwin-arm64": { os: ["darwin"], cpu: ["arm64"] },
  "darwin-x64": { os: ["darwin"], cpu: ["x64"] },
  "win32-x64-msvc": { os: ["win32"], cpu: ["x64"] },
  "win32-arm64": { os: ["win32"], cpu: ["arm64"] },
  "win32-x64": { os: ["win32"], cpu: ["x64"] },
  "android-arm64": { os: ["android"], cpu: ["arm64"] },
};
const lock = JSON.parse(readFileSync("package-lock.json", "utf8"));
let added = 0;
for (const entry of Object.values(lock.packages)) {
  for (const [dep, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`;
    if (lock.packages[key]) continue;
    const suffix = Object.keys(platforms).find((p) => dep.endsWith(`-${p}`));
    if (!suffix) throw new Error(`no platform known for optional dependency ${dep}`);
    lock.packages[key] = { version, optional: true, ...platforms[suffix] };
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => a.localeCompare(b)));
writeFileSync("package-lock.json", JSON.stringify(lock, null, 2) + "\n");
console.log(`added ${added} platform stub entries`);
