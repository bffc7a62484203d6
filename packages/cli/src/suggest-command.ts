import { nearest } from "@mlflow-dev/spec";

export function nearestCommand(word: string, commands: string[]): string | undefined {
  return nearest(word, commands);
}
