import { EXIT, UserError } from "../errors.ts";

export async function run(_argv: string[]): Promise<number> {
  throw new UserError("logs is not available yet in this build", { exitCode: EXIT.failed });
}
