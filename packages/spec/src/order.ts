/**
 * Code-unit order: the same on every machine and in every locale (unlike localeCompare, whose
 * order follows the process's locale). Every sort whose result is rendered or printed uses it.
 */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
