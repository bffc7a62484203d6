#!/usr/bin/env node
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
