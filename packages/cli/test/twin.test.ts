import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { imageOverridesFromEnv } from "../src/load-spec.ts";
import { formatTwinFidelity, TWIN_DOES_NOT_ENFORCE, TWIN_ENFORCES } from "../src/twin/fidelity.ts";
import {
  chooseTwinImage,
  DEFAULT_TWIN_BASE_IMAGE,
  SHIPPED_TWIN_FILES,
  twinBuildCommand,
  twinInputsHash,
  twinOverrides,
  twinPostgresImage,
} from "../src/twin/image.ts";
import {
  MINISTACK_VERSION,
  networkCreateArgs,
  rdsImageName,
  TWIN_CONTAINER,
  TWIN_RDS_IMAGE_PREFIX,
  TWIN_VARIABLES,
  twinAddresses,
  twinRunArgs,
  twinSettings,
} from "../src/twin/settings.ts";
import { shippedTwinSource } from "../src/twin/start.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const START_SH = readFileSync(join(ROOT, "localstack/start.sh"), "utf8");

describe("the twin's settings", () => {
  it("default to localstack/start.sh's and read the same variables", () => {
    const s = twinSettings({});
    expect(s).toMatchObject({ network: "mlflow-dev-aws", subnet: "169.254.170.0/24", port: 4566, region: "us-east-1" });
    for (const [name, fallback] of Object.values(TWIN_VARIABLES))
      expect(START_SH).toContain(`\${${name}:-${fallback}}`);
    expect(START_SH).toContain(`MINISTACK_NAME=\${MLFLOW_DEV_AWS_CONTAINER:-${TWIN_CONTAINER}}\n`);
    expect(START_SH).toContain(`RDS_IMAGE_PREFIX=${TWIN_RDS_IMAGE_PREFIX}\n`);
  });

  it("run the container as localstack/start.sh does: same network address, port, socket, variables and label", () => {
    const args = twinRunArgs(twinSettings({}), "img:1").join(" ");
    expect(args).toContain("--network mlflow-dev-aws --ip 169.254.170.2 -p 127.0.0.1:4566:4566");
    expect(args).toContain("-v /var/run/docker.sock:/var/run/docker.sock");
    for (const [flag, value] of [
      ["--label", "mlflow-dev.emulator=ministack"],
      ["-e", "GATEWAY_PORT=4566"],
      ["-e", 'MINISTACK_REGION="$REGION"'],
      ["-e", 'DOCKER_NETWORK="$NETWORK"'],
      ["-e", 'MINISTACK_IMAGE_PREFIX="$RDS_IMAGE_PREFIX"'],
      ["-e", 'LOG_LEVEL="${MINISTACK_LOG_LEVEL:-INFO}"'],
      ["--network", '"$NETWORK" --ip "$EMULATOR_IP"'],
      ["-p", '"127.0.0.1:$PORT:4566"'],
    ])
      expect(START_SH).toContain(`${flag} ${value}`);
    expect(args).toContain("-e MINISTACK_IMAGE_PREFIX=mlflow-dev-local/ministack-images");
    expect(args.endsWith(" img:1")).toBe(true);
    expect(START_SH).toContain('"$RDS_IMAGE_PREFIX/postgres:$pg_major-alpine"');
    expect(rdsImageName(17)).toBe("mlflow-dev-local/ministack-images/postgres:17-alpine");
  });

  it("take .2 of the subnet for the twin and .1 for the gateway, and refuse what is not a /24", () => {
    const s = twinSettings({ MLFLOW_DEV_AWS_SUBNET: "10.9.8.0/24", MLFLOW_DEV_AWS_PORT: "4570" });
    expect(twinAddresses(s.subnet)).toEqual({ emulator: "10.9.8.2", gateway: "10.9.8.1" });
    expect(networkCreateArgs(s)).toEqual(expect.arrayContaining(["--subnet", "10.9.8.0/24", "--gateway", "10.9.8.1"]));
    expect(twinRunArgs(s, "x")).toEqual(expect.arrayContaining(["127.0.0.1:4570:4566", "10.9.8.2"]));
    expect(() => twinSettings({ MLFLOW_DEV_AWS_SUBNET: "10.0.0.0/16" })).toThrow(/expected an IPv4 \/24/);
    expect(() => twinSettings({ MLFLOW_DEV_AWS_PORT: "port" })).toThrow(/expected a port number/);
  });
});

describe("the twin's image", () => {
  const files = Object.fromEntries(SHIPPED_TWIN_FILES.map((f) => [f, readFileSync(join(ROOT, "images/ministack", f))]));

  it("is built from the shipped context on the official Python base pinned by digest, tagged with its inputs' hash", () => {
    const choice = chooseTwinImage({}, files);
    expect(DEFAULT_TWIN_BASE_IMAGE).toMatch(/^python:3\.\d+-slim@sha256:[0-9a-f]{64}$/);
    expect(choice).toMatchObject({
      kind: "build",
      buildArgs: { BASE_IMAGE: DEFAULT_TWIN_BASE_IMAGE, MINISTACK_VERSION },
    });
    expect(choice.image).toMatch(new RegExp(`^localhost/mlflow-dev/ministack:${MINISTACK_VERSION}-[0-9a-f]{16}$`));
    const cmd = twinBuildCommand(choice, "/ctx");
    expect(cmd).toEqual(
      expect.arrayContaining(["--build-arg", `BASE_IMAGE=${DEFAULT_TWIN_BASE_IMAGE}`, "-t", choice.image]),
    );
    expect(cmd.at(-1)).toBe("/ctx");
    expect(cmd).toContain(`mlflow-dev.inputs=${choice.image.split("-").at(-1)}`);
  });

  it("gets another tag when a patch, the base or the release changes, the same tag otherwise", () => {
    const args = { BASE_IMAGE: "b", MINISTACK_VERSION: "1" };
    const h = twinInputsHash(files, args);
    expect(twinInputsHash({ ...files }, { ...args })).toBe(h);
    expect(twinInputsHash({ ...files, "patches.py": `${files["patches.py"]}\n# x` }, args)).not.toBe(h);
    expect(twinInputsHash(files, { ...args, BASE_IMAGE: "c" })).not.toBe(h);
    expect(twinInputsHash(files, { ...args, MINISTACK_VERSION: "2" })).not.toBe(h);
    expect(chooseTwinImage({ ministackBase: "localhost/py:3" }, files).image).not.toBe(
      chooseTwinImage({}, files).image,
    );
  });

  it("takes MLFLOW_DEV_IMAGES: ministack= is used as it is, ministack-base= (else mlflow-base=) is the build's base", () => {
    const o = twinOverrides("mlflow=localhost/a/mlflow:1, postgres=localhost/a/pg:17,mlflow-base=localhost/a/py:3");
    expect(o).toEqual({ postgres: "localhost/a/pg:17", mlflowBase: "localhost/a/py:3" });
    expect(chooseTwinImage(o, files).buildArgs?.BASE_IMAGE).toBe("localhost/a/py:3");
    expect(chooseTwinImage({ ...o, ministackBase: "localhost/b/py:3" }, files).buildArgs?.BASE_IMAGE).toBe(
      "localhost/b/py:3",
    );
    expect(chooseTwinImage(twinOverrides("ministack=localhost/m/ministack:1"), {})).toMatchObject({
      kind: "given",
      image: "localhost/m/ministack:1",
    });
    // The local stack's parser accepts the twin's keys, and checks their references.
    expect(() => imageOverridesFromEnv("ministack=localhost/m/ministack:1,ministack-base=localhost/p:3")).not.toThrow();
    expect(() => imageOverridesFromEnv("ministack=mlflow-dev-local/ministack:1")).toThrow(/without a registry/);
  });

  it("runs RDS on the local stack's PostgreSQL override for the default major, else the official image by digest", () => {
    expect(twinPostgresImage({ postgres: "localhost/a/pg:17" }, 17)).toBe("localhost/a/pg:17");
    expect(twinPostgresImage({ postgres: "localhost/a/pg:17" }, 16)).toMatch(/^postgres:16/);
    expect(twinPostgresImage({}, 17)).toMatch(/^postgres:17@sha256:/);
  });

  it("ships from images/ministack (the workspace's here; dist/images/ministack in the package)", () => {
    expect(shippedTwinSource()).toBe(join(ROOT, "images/ministack"));
  });
});

describe("what the twin enforces", () => {
  it("localstack/README.md holds the same list as the data the command prints", () => {
    const readme = readFileSync(join(ROOT, "localstack/README.md"), "utf8");
    const m = /<!-- twin-fidelity:start -->\n([\s\S]*?)<!-- twin-fidelity:end -->/.exec(readme);
    expect(m?.[1]).toBe(formatTwinFidelity("markdown"));
  });

  it("names each patch of localstack/README.md that changes what AWS enforces", () => {
    const notes = TWIN_ENFORCES.map((b) => b.note).join(" ");
    for (const n of [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19])
      expect(notes).toMatch(new RegExp(`\\b${n}\\b`));
    expect(TWIN_DOES_NOT_ENFORCE.map((b) => b.behaviour).join(" ")).toMatch(/IAM/);
    expect(formatTwinFidelity("text")).toMatch(/^the twin enforces:\n {2}- /);
  });
});
