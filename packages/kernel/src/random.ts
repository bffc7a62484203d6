import { randomBytes } from "node:crypto";
import { generateSecret, type RandomBytes } from "./secrets.ts";

/**
 * The system's randomness, the only place the packages read it: secrets (through the pure
 * generateSecret) and the random parts of names (temporary files, one-off database names).
 */
export const systemRandom: RandomBytes = (n) => randomBytes(n);

/** A new secret from the system's randomness (see generateSecret). */
export function newSecret(length?: number): string {
  return generateSecret(systemRandom, length);
}

/** `bytes` random bytes as hex: the random part of a temporary name, never a secret that is kept. */
export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString("hex");
}
