/** Process entry point: runs the CLI and exits with its code (stdout drained first). */
import { main } from "./main.ts";

const code = await main(process.argv.slice(2));
// Keep-alive sockets or timers of libraries must not keep a finished command alive.
process.stdout.write("", () => process.exit(code));
