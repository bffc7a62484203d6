/** Code-unit order: the same on every machine and locale (unlike localeCompare). */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function sortedByName<T extends { name: string }>(items: T[]): T[] {
  return [...items].sort((a, b) => compareCodeUnits(a.name, b.name));
}

/** Keeps the first occurrence of each value, in order. */
export function unique(values: string[]): string[] {
  return [...new Set(values)];
}
