#!/usr/bin/env node
// Entry point for `npx sluice`: runs the TypeScript CLI through tsx without a build step.
import { register } from "tsx/esm/api";
register();
await import("../src/cli/bin.ts");
