/** Compares MLflow release numbers (3.9.2 < 3.10.0; a pre-release such as 3.10.0rc0 before 3.10.0). */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) => {
    const m = /^(\d+(?:\.\d+)*)(.*)$/.exec(v.trim());
    return { numbers: (m?.[1] ?? "0").split(".").map(Number), suffix: m?.[2] ?? "" };
  };
  const x = parts(a);
  const y = parts(b);
  for (let i = 0; i < Math.max(x.numbers.length, y.numbers.length); i++) {
    const d = (x.numbers[i] ?? 0) - (y.numbers[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  if (x.suffix === y.suffix) return 0;
  if (x.suffix === "") return 1;
  if (y.suffix === "") return -1;
  return x.suffix < y.suffix ? -1 : 1;
}

/** How the MLflow version that served a database relates to the one a spec asks for. */
export type VersionChange =
  | { kind: "none" }
  | { kind: "first"; to: string }
  | { kind: "upgrade"; from: string; to: string }
  | { kind: "downgrade"; from: string; to: string };

export function versionChange(served: string | undefined, wanted: string): VersionChange {
  if (served === undefined) return { kind: "first", to: wanted };
  const c = compareVersions(wanted, served);
  if (c === 0) return { kind: "none" };
  return c > 0 ? { kind: "upgrade", from: served, to: wanted } : { kind: "downgrade", from: served, to: wanted };
}
