/**
 * Builds the publishable `mlflow-dev` package into packages/cli/dist: the CLI and the library
 * entry bundled to JavaScript with esbuild (the workspace packages inlined, every npm dependency
 * left external and still loaded lazily), bundled type declarations, the JSON Schema, README,
 * CHANGELOG, the MLflow image's build context (images/mlflow: Dockerfile and hashed lock), the AWS
 * twin's (images/ministack: Dockerfile, requirements, patches) and a package.json whose dependencies are exactly the npm packages the bundle imports,
 * at the versions the workspace packages pin.
 *   node packages/cli/scripts/build.ts          build only (pnpm build:cli)
 *   node packages/cli/scripts/build.ts --pack   also `npm pack` it into dist/ (pnpm pack:cli): one
 *                                               tarball, dist/mlflow-dev-<version>.tgz
 */
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateDtsBundle } from "dts-bundle-generator";
import { build } from "esbuild";
import { SHIPPED_MLFLOW_FILES } from "../src/shipped-image.ts";
import { SHIPPED_TWIN_FILES } from "../src/twin/image.ts";
import { publishManifest } from "./manifest.ts";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const cli = join(root, "packages/cli");
const out = join(cli, "dist");

rmSync(out, { recursive: true, force: true });

const builtins = new Set(builtinModules);
const result = await build({
  absWorkingDir: root,
  entryPoints: { "bin/mlflow-dev": join(cli, "bin/mlflow-dev.js"), index: join(cli, "src/lib.ts") },
  outdir: out,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  chunkNames: "chunks/[name]-[hash]",
  metafile: true,
  logLevel: "warning",
  plugins: [
    {
      name: "npm-dependencies-external",
      setup(b) {
        // Bare specifiers other than the workspace's own packages stay imports of npm packages.
        b.onResolve({ filter: /^[^./]/ }, (args) =>
          args.path.startsWith("@mlflow-dev/") ? undefined : { path: args.path, external: true },
        );
      },
    },
  ],
});

const imported = new Set<string>();
for (const file of Object.values(result.metafile.outputs))
  for (const i of file.imports)
    if (i.external && !i.path.startsWith("node:") && !builtins.has(i.path)) imported.add(packageName(i.path));

writeFileSync(join(out, "index.d.ts"), bundledDeclarations());
copyFileSync(join(root, "packages/spec/schema.json"), join(out, "schema.json"));
copyFileSync(join(root, "README.md"), join(out, "README.md"));
copyFileSync(join(root, "CHANGELOG.md"), join(out, "CHANGELOG.md"));
copyFileSync(join(root, "LICENSE"), join(out, "LICENSE"));
// The MLflow image's build context, the one CI builds: the default `up` and promote build it.
mkdirSync(join(out, "images/mlflow"), { recursive: true });
for (const f of SHIPPED_MLFLOW_FILES) copyFileSync(join(root, "images/mlflow", f), join(out, "images/mlflow", f));
// The AWS twin's build context (MiniStack, its pinned requirements and patches): `rehearse` builds it.
mkdirSync(join(out, "images/ministack"), { recursive: true });
for (const f of SHIPPED_TWIN_FILES) copyFileSync(join(root, "images/ministack", f), join(out, "images/ministack", f));
writeFileSync(join(out, "package.json"), `${JSON.stringify(publishManifest(root, [...imported]), null, 2)}\n`);
console.log(`built ${out} (dependencies: ${[...imported].sort().join(", ")})`);

if (process.argv.includes("--pack")) {
  const dest = join(root, "dist");
  mkdirSync(dest, { recursive: true });
  for (const f of readdirSync(dest)) if (/^mlflow-dev-.*\.tgz$/.test(f)) rmSync(join(dest, f));
  const npm = spawnSync("npm", ["pack", out, "--pack-destination", dest, "--json"], { encoding: "utf8" });
  if (npm.status !== 0) throw new Error(`npm pack failed:\n${npm.stderr}`);
  const [packed] = JSON.parse(npm.stdout) as { filename: string }[];
  console.log(`packed ${join(dest, packed?.filename ?? "")}`);
}

function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? specifier);
}

/**
 * One index.d.ts for the library entry: tsc emits the declarations of the workspace sources, their
 * relative `.ts` specifiers become `.js`, the workspace packages are mapped onto those declarations,
 * and dts-bundle-generator inlines them (npm packages stay imports).
 */
function bundledDeclarations(): string {
  const tmp = mkdtempSync(join(tmpdir(), "mlflow-dev-types-"));
  try {
    const tsc = spawnSync(
      process.execPath,
      [
        join(root, "node_modules/typescript/bin/tsc"),
        ...["-p", join(root, "tsconfig.json"), "--noEmit", "false", "--declaration", "--emitDeclarationOnly"],
        ...["--declarationDir", tmp],
      ],
      { encoding: "utf8" },
    );
    if (tsc.status !== 0) throw new Error(`tsc failed:\n${tsc.stdout}${tsc.stderr}`);
    for (const entry of readdirSync(tmp, { recursive: true, encoding: "utf8" }))
      if (entry.endsWith(".d.ts")) {
        const file = join(tmp, entry);
        const text = readFileSync(file, "utf8").replace(/((?:from |import\()"\.{1,2}\/[^"]*)\.ts"/g, '$1.js"');
        writeFileSync(file, text);
      }
    const paths: Record<string, string[]> = {};
    for (const dir of readdirSync(join(root, "packages"))) {
      // The declarations resolve npm packages (zod, yaml, ...) as their sources do.
      if (existsSync(join(tmp, "packages", dir)) && existsSync(join(root, "packages", dir, "node_modules")))
        symlinkSync(join(root, "packages", dir, "node_modules"), join(tmp, "packages", dir, "node_modules"));
      const manifest = JSON.parse(readFileSync(join(root, "packages", dir, "package.json"), "utf8")) as {
        name: string;
        exports: Record<string, string>;
      };
      for (const [sub, target] of Object.entries(manifest.exports))
        paths[join(manifest.name, sub)] = [join(tmp, "packages", dir, target.replace(/\.(ts|js)$/, ".d.ts"))];
    }
    const config = join(tmp, "tsconfig.json");
    writeFileSync(
      config,
      JSON.stringify({
        compilerOptions: {
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          skipLibCheck: true,
          types: ["node"],
          typeRoots: [join(root, "node_modules/@types")],
          paths,
        },
        files: [join(tmp, "packages/cli/src/lib.d.ts")],
      }),
    );
    const [text] = generateDtsBundle([{ filePath: join(tmp, "packages/cli/src/lib.d.ts") }], {
      preferredConfigPath: config,
    });
    if (!text) throw new Error("dts-bundle-generator wrote no declarations");
    return text;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
