import { compareCodeUnits } from "@mlflow-dev/spec";

/** Code-unit order: the same on every machine and locale (unlike localeCompare). */
export { compareCodeUnits };

export function sortedByName<T extends { name: string }>(items: T[]): T[] {
  return [...items].sort((a, b) => compareCodeUnits(a.name, b.name));
}

/** Keeps the first occurrence of each value, in order. */
export function unique(values: string[]): string[] {
  return [...new Set(values)];
}
