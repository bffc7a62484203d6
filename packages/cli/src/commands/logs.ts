import { parseCommandArgs } from "../args.ts";
import { EXIT, UserError } from "../errors.ts";
import { localContext } from "../local.ts";

const SERVICES = ["mlflow", "postgres", "minio", "migrate"];

export async function run(argv: string[]): Promise<number> {
  // -f is the spec file, as in every command; follow is --follow (or -F).
  const { values, positionals, global } = parseCommandArgs(
    "logs",
    argv,
    {
      follow: { type: "boolean", short: "F" },
      tail: { type: "string" },
    },
    1,
  );
  const service = positionals[0];
  if (service !== undefined && !SERVICES.includes(service))
    throw new UserError(`unknown service "${service}"`, {
      exitCode: EXIT.invalidInput,
      hint: `Services: ${SERVICES.join(", ")}`,
    });
  const ctx = await localContext(global.file);
  const { DockerComposeCli, stackPaths, projectName } = ctx.runtime;
  const compose = new DockerComposeCli({ ...stackPaths(ctx.stateDir), projectName: projectName(ctx.model) });
  await compose.logs({
    ...(service ? { service } : {}),
    follow: values.follow === true,
    ...(typeof values.tail === "string" ? { tail: Number(values.tail) } : {}),
  });
  return EXIT.ok;
}
