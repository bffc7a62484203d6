#!/usr/bin/env node
import { enableCompileCache } from "node:module";

// V8's compile cache (in the system's temporary directory; NODE_DISABLE_COMPILE_CACHE=1 turns it
// off): from the second run on, the command modules start in about half the CPU time.
enableCompileCache();
// Help and version are answered from plain JavaScript so they start as fast as Node itself;
// everything else goes through the (lazily loaded) command modules.
const argv = process.argv.slice(2);
const first = argv[0];
if (first === undefined || first === "--help" || first === "-h" || first === "--version" || first === "-v") {
  const { USAGE } = await import("../src/help.js");
  const { VERSION } = await import("../src/version.js");
  process.stdout.write(first === "--version" || first === "-v" ? `${VERSION}\n` : USAGE);
} else {
  const { main } = await import("../src/main.ts");
  process.exitCode = await main(argv);
}
