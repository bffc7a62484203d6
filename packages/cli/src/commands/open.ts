import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { startDetached } from "@mlflow-dev/kernel/process";
import { parseCommandArgs } from "../args.ts";
import { EXIT } from "../errors.ts";
import { type OpenTarget, type RuntimeFor, runtimeFor } from "../runtimes/runtime.ts";

/** `open [--env <name>]`: the UI's URL and where the credentials live; a browser at a terminal. */
export async function run(argv: string[], runtimes: RuntimeFor = runtimeFor): Promise<number> {
  const { values, global } = parseCommandArgs("open", argv);
  const target = await runtimes({ values, global }).open();
  process.stdout.write(global.json ? `${JSON.stringify(target, null, 2)}\n` : formatOpenTarget(target));
  if (!global.json && values["no-browser"] !== true && process.stdout.isTTY) openBrowser(target.url);
  return EXIT.ok;
}

/** The text `open` prints (pure). */
export function formatOpenTarget(t: OpenTarget): string {
  const c = t.credentials;
  const where =
    c === undefined
      ? "no login (auth: none)"
      : c.kind === "env-file"
        ? `user ${c.username}, password in ${c.variable} of ${c.file} beside the spec`
        : `user ${c.username}, password in the Secrets Manager secret ${c.secret} (${c.region})`;
  return `${t.url}\n  ${where}\n`;
}

/** The platform's opener on PATH (xdg-open, or open on macOS); undefined when there is none. */
export function browserOpener(platform = process.platform, path = process.env.PATH ?? ""): string | undefined {
  const name = platform === "darwin" ? "open" : platform === "win32" ? undefined : "xdg-open";
  if (!name) return undefined;
  for (const dir of path.split(delimiter).filter(Boolean)) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {}
  }
  return undefined;
}

/** Starts the browser and does not wait for it; a missing or failing opener is no failure of `open`. */
function openBrowser(url: string): void {
  const opener = browserOpener();
  if (!opener) return;
  startDetached(opener, [url]);
}
