#!/usr/bin/env node
// Entry point for `npx sluice`: runs the TypeScript CLI through tsx without a build step.
// Both hooks: job files found outside an ESM package (a user's jobs folder) load as CommonJS.
import { register as registerCommonJs } from "tsx/cjs/api";
import { register } from "tsx/esm/api";
registerCommonJs();
register();
await import("../src/cli/bin.ts");
