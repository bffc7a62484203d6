import { EXIT, UserError } from "../errors.ts";

export async function run(_argv: string[]): Promise<number> {
  throw new UserError("up is not available yet in this build", { exitCode: EXIT.failed });
}
