// Loaded with `node --import`: registers a resolve hook that names, on stderr, every package in
// SLUICE_TRACE_IMPORTS (comma-separated) the process imports, and every module it loads whose URL
// matches a /regex/ entry there, so a test can see what a command loads.
import { register } from "node:module";

register(new URL("./trace-imports-hook.mjs", import.meta.url), { data: { names: (process.env.SLUICE_TRACE_IMPORTS ?? "").split(",").filter(Boolean) } });
