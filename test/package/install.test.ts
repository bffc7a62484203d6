import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { toAwsModel, toTemplateYaml } from "@mlflow-dev/aws";
import { NODE_22 } from "@mlflow-dev/cli/manifest";
import { SHIPPED_TWIN_FILES } from "@mlflow-dev/cli/twin-image";
import { toComposeYaml } from "@mlflow-dev/compose";
import { MLFLOW_DEV_VERSION, parseSpecOrThrow, resolve } from "@mlflow-dev/spec";
import { installedProject, nodeRuntimes, npx, packCli, ROOT, specFixture, userEnv } from "@mlflow-dev/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The package tier: `pnpm pack:cli`, then, on each tested Node, `npm install <tarball>` into a fresh
 * project outside the repository and `npx mlflow-dev ...` from that project's directory with no -f.
 * What the installed package prints is compared with what the workspace sources render.
 */

const schema = JSON.parse(readFileSync(join(ROOT, "packages/spec/schema.json"), "utf8"));
let tarball: string;

beforeAll(() => {
  tarball = packCli();
});

describe("the tarball", () => {
  it("holds the built package only: no tests, fixtures, sources, .env or maps", () => {
    const files = spawnSync("tar", ["-tzf", tarball], { encoding: "utf8" })
      .stdout.split("\n")
      .filter(Boolean)
      .map((f) => f.replace(/^package\//, ""));
    expect(files).toEqual(expect.arrayContaining(["package.json", "bin/mlflow-dev.js", "index.js", "index.d.ts"]));
    expect(files).toEqual(expect.arrayContaining(["schema.json", "README.md", "CHANGELOG.md", "LICENSE"]));
    // The MLflow image's build context, byte for byte the one CI builds.
    expect(files).toEqual(
      expect.arrayContaining([
        "images/mlflow/Dockerfile",
        "images/mlflow/requirements.txt",
        "images/mlflow/requirements.in",
        "images/mlflow/rds-ca-bundle.pem",
      ]),
    );
    for (const f of ["Dockerfile", "requirements.txt", "requirements.in", "rds-ca-bundle.pem"]) {
      const packed = spawnSync("tar", ["-xOzf", tarball, `package/images/mlflow/${f}`], { encoding: "utf8" }).stdout;
      expect(packed, f).toBe(readFileSync(join(ROOT, "images/mlflow", f), "utf8"));
    }
    // The AWS twin's build context (rehearse builds it), byte for byte the one CI builds.
    for (const f of SHIPPED_TWIN_FILES) {
      const packed = spawnSync("tar", ["-xOzf", tarball, `package/images/ministack/${f}`], { encoding: "utf8" }).stdout;
      expect(packed, f).toBe(readFileSync(join(ROOT, "images/ministack", f), "utf8"));
    }
    const unexpected = files.filter(
      (f) =>
        !/^(package\.json|README\.md|CHANGELOG\.md|LICENSE|schema\.json|index\.js|index\.d\.ts|bin\/mlflow-dev\.js|chunks\/[\w-]+\.js|images\/mlflow\/(Dockerfile|requirements\.(txt|in)|rds-ca-bundle\.pem)|images\/ministack\/(Dockerfile|requirements\.txt|patches\.py|application_autoscaling\.py|rds_max_connections\.py))$/.test(
          f,
        ),
    );
    expect(unexpected).toEqual([]);
    for (const f of files) expect(f).not.toMatch(/test|fixture|golden|\.env|\.ts$(?<!\.d\.ts)|\.map$/);
  });
});

const runtimes = nodeRuntimes();

describe.each(runtimes.map((n) => [n.version, n] as const))("installed with npm, on Node %s", (_version, node) => {
  let project: string;

  beforeAll(() => {
    project = installedProject(tarball, node);
  }, 600_000);

  afterAll(() => {
    if (project) rmSync(project, { recursive: true, force: true });
  });

  it("declares this Node in engines and installs mlflow-dev as a dev dependency", () => {
    const manifest = JSON.parse(readFileSync(join(project, "node_modules/mlflow-dev/package.json"), "utf8"));
    expect(manifest.version).toBe(MLFLOW_DEV_VERSION);
    const major = node.version.replace(/^v(\d+)\..*$/, "$1");
    expect(manifest.engines.node).toMatch(new RegExp(`\\^${major}\\.`));
    expect(manifest.license).toBe("MIT");
    expect(readFileSync(join(project, "node_modules/mlflow-dev/LICENSE"), "utf8")).toMatch(/^MIT License/);
    expect(JSON.parse(readFileSync(join(project, "package.json"), "utf8")).devDependencies).toHaveProperty(
      "mlflow-dev",
    );
    // Test helpers and the workspace's own packages stay out of the install.
    for (const absent of ["testcontainers", "vitest", "@mlflow-dev/spec"])
      expect(existsSync(join(project, "node_modules", absent)), absent).toBe(false);
  });

  it("--version prints the package's version", () => {
    const r = npx(node, ["--version"], project);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`${MLFLOW_DEV_VERSION}\n`);
  });

  it("init writes mlflow-dev.yaml and its schema in the project", () => {
    const r = npx(node, ["init", "--name", "churn-model"], project);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      "wrote mlflow-dev.yaml and mlflow-dev.schema.json\nnext: `mlflow-dev validate`, then `mlflow-dev up`\n",
    );
    const spec = readFileSync(join(project, "mlflow-dev.yaml"), "utf8");
    expect(spec.split("\n")[0]).toBe("# yaml-language-server: $schema=./mlflow-dev.schema.json");
    expect(spec).toContain("name: churn-model");
    expect(JSON.parse(readFileSync(join(project, "mlflow-dev.schema.json"), "utf8"))).toEqual(schema);
  });

  it("validate finds ./mlflow-dev.yaml, and the project's spec from a subdirectory", () => {
    const r = npx(node, ["validate"], project);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("mlflow-dev.yaml is valid (environments: local)\n");
    mkdirSync(join(project, "notebooks"), { recursive: true });
    const sub = npx(node, ["validate"], join(project, "notebooks"));
    expect(sub.stdout).toBe(`${join("..", "mlflow-dev.yaml")} is valid (environments: local)\n`);
  });

  it("render --env local prints the compose file the workspace sources render", () => {
    // The spec's own images: no MLFLOW_DEV_IMAGES substitute from the environment (CI sets one).
    const r = npx(node, ["render", "--env", "local"], project, { env: { MLFLOW_DEV_IMAGES: "" } });
    expect(r.code, r.stderr).toBe(0);
    const spec = parseSpecOrThrow(readFileSync(join(project, "mlflow-dev.yaml"), "utf8"));
    expect(r.stdout).toBe(toComposeYaml(resolve(spec, "local"), { specDir: "." }));
    expect(r.stdout.split("\n")[0]).toContain(`Rendered by mlflow-dev ${MLFLOW_DEV_VERSION} from mlflow-dev.yaml`);
    const compose = JSON.parse(npx(node, ["render", "--env", "local", "--json"], project).stdout);
    expect(compose.name).toBe("mlflow-dev-churn-model");
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(["mlflow", "postgres", "versitygw"]));
  });

  it("render --env staging (init's commented AWS environment, filled in) prints the CloudFormation template", () => {
    // init's spec carries an AWS environment as a commented block: uncomment it as a user would.
    const spec = specFixture.file(join(project, "mlflow-dev.yaml")).uncommentEnv("staging");
    spec.write(project);
    const text = spec.text();
    expect(npx(node, ["validate"], project).stdout).toBe("mlflow-dev.yaml is valid (environments: local, staging)\n");
    const r = npx(node, ["render", "--env", "staging"], project);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(toTemplateYaml(toAwsModel(resolve(parseSpecOrThrow(text), "staging"))));
    const { template } = JSON.parse(npx(node, ["render", "--env", "staging", "--json"], project).stdout);
    expect(template.AWSTemplateFormatVersion).toBe("2010-09-09");
    expect(Object.values(template.Resources).map((x) => (x as { Type: string }).Type)).toEqual(
      expect.arrayContaining(["AWS::ECS::Service", "AWS::RDS::DBInstance", "AWS::S3::Bucket"]),
    );
    const out = npx(node, ["render", "--env", "staging", "--out", "infra"], project);
    expect(out.code, out.stderr).toBe(0);
    expect(readFileSync(join(project, "infra/template.yaml"), "utf8")).toBe(r.stdout);
    expect(JSON.parse(readFileSync(join(project, "infra/task-definition.json"), "utf8")).family).toBe(
      "mlflow-dev-churn-model-staging-mlflow",
    );
  });

  it("status, logs and up without a Docker engine: exit 1 with a fix, never an internal error", () => {
    const env = { DOCKER_HOST: "unix:///nonexistent/mlflow-dev-package-test.sock", DOCKER_CONTEXT: "" };
    for (const args of [["status"], ["logs"], ["logs", "-f", "mlflow"], ["up"]]) {
      const r = npx(node, args, project, { env });
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toContain("cannot reach the Docker engine at unix:///nonexistent/mlflow-dev-package-test.sock");
      expect(r.stderr).toContain("docker context use <name>");
      expect(r.stderr).not.toContain("internal error");
    }
  });

  it(".mlflow-dev/ (the .env of passwords) is ignored by git in a fresh repository", () => {
    expect(spawnSync("git", ["init", "-q"], { cwd: project }).status).toBe(0);
    const r = npx(node, ["render", "--env", "local", "--out", ".mlflow-dev"], project);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(project, ".mlflow-dev/.env"))).toBe(true);
    expect(spawnSync("git", ["check-ignore", "-q", ".mlflow-dev/.env"], { cwd: project }).status).toBe(0);
    const added = spawnSync("git", ["status", "--porcelain", "--untracked-files=all"], {
      cwd: project,
      encoding: "utf8",
    });
    expect(added.stdout).not.toContain(".mlflow-dev");
  });

  it("schema prints the JSON Schema the package ships as mlflow-dev/schema.json", () => {
    const r = npx(node, ["schema"], project);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(schema);
    expect(JSON.parse(readFileSync(join(project, "node_modules/mlflow-dev/schema.json"), "utf8"))).toEqual(schema);
  });

  it("the library entry parses, resolves and renders from a script", () => {
    const script = [
      'import { readFileSync } from "node:fs";',
      'import { parse, resolve, toComposeYaml, renderAws, VERSION } from "mlflow-dev";',
      'const r = parse(readFileSync("mlflow-dev.yaml", "utf8"), "mlflow-dev.yaml");',
      "if (!r.ok) throw new Error(JSON.stringify(r.issues));",
      'const aws = renderAws(resolve(r.spec, "staging"));',
      'console.log(JSON.stringify({ VERSION, name: r.spec.name, compose: toComposeYaml(resolve(r.spec, "local")).split("\\n")[0], family: aws.taskDefinition.family }));',
    ].join("\n");
    const r = spawnSync(node.bin, ["--input-type=module", "-e", script], {
      cwd: project,
      encoding: "utf8",
      env: userEnv(node),
    });
    expect(r.stderr).toBe("");
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ VERSION: MLFLOW_DEV_VERSION, name: "churn-model" });
    expect(out.compose).toContain(`mlflow-dev ${MLFLOW_DEV_VERSION}`);
    expect(out.family).toContain("churn-model");
    const invalid = spawnSync(
      node.bin,
      [
        "--input-type=module",
        "-e",
        'import { parse } from "mlflow-dev"; console.log(JSON.stringify(parse("name: 1\\n", "x.yaml")));',
      ],
      { cwd: project, encoding: "utf8", env: userEnv(node) },
    );
    const bad = JSON.parse(invalid.stdout);
    expect(bad.ok).toBe(false);
    expect(bad.issues[0]).toMatchObject({ file: "x.yaml", line: expect.any(Number) });
  });

  it("its type declarations type-check a script against the library entry", () => {
    writeFileSync(
      join(project, "check.ts"),
      [
        'import { type Model, parse, resolve, type SpecIssue, toComposeYaml } from "mlflow-dev";',
        'const r = parse("name: x\\n", "mlflow-dev.yaml");',
        "const issues: SpecIssue[] = r.ok ? [] : r.issues;",
        'const model: Model | undefined = r.ok ? resolve(r.spec, "local") : undefined;',
        "export const text: string = model ? toComposeYaml(model) : issues.map((i) => i.message).join();",
        "// @ts-expect-error: toComposeYaml takes a Model",
        'toComposeYaml("not a model");',
      ].join("\n"),
    );
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ["node"],
          typeRoots: [join(ROOT, "node_modules/@types")],
        },
        files: ["check.ts"],
      }),
    );
    const tsc = spawnSync(node.bin, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", project], {
      cwd: project,
      encoding: "utf8",
    });
    expect(tsc.stdout + tsc.stderr).toBe("");
    expect(tsc.status).toBe(0);
  });

  it("help, version, init, validate, render and schema need none of the heavy dependencies (AWS SDK, Docker)", () => {
    // Loaded lazily: with them gone, everything that touches neither Docker nor AWS still runs.
    for (const heavy of ["@aws-sdk", "dockerode", "execa"])
      rmSync(join(project, "node_modules", heavy), { recursive: true, force: true });
    expect(npx(node, ["--help"], project).stdout).toContain("Usage: mlflow-dev <command>");
    expect(npx(node, ["validate"], project).code).toBe(0);
    expect(npx(node, ["render", "--env", "local"], project).code).toBe(0);
    expect(npx(node, ["render", "--env", "staging"], project).code).toBe(0);
    expect(npx(node, ["schema"], project).code).toBe(0);
    // Where a command does need one, the import fails loudly rather than silently.
    expect(npx(node, ["status"], project).code).not.toBe(0);
  });
});

it("runs on both supported Node lines: the repository's pinned 24 and 22", () => {
  const pinned = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).devDependencies.node;
  expect(runtimes.map((n) => n.version)).toEqual([`v${pinned}`, `v${NODE_22}`]);
});
