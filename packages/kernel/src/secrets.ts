/**
 * The one secret generator: every password, key and passphrase mlflow-dev makes (the local
 * stack's .env, the AWS environment's Secrets Manager secrets) comes from generateSecret. Pure:
 * the randomness is passed in (random.ts holds the system's), so rendering a .env stays testable.
 */

/** Source of randomness: n bytes. */
export type RandomBytes = (n: number) => Uint8Array;

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/**
 * A strong secret made only of URL- and shell-safe characters (it is embedded in a PostgreSQL
 * URI, and RDS accepts it as a master password). 32 characters from 62 symbols: about 190 bits.
 */
export function generateSecret(random: RandomBytes, length = 32): string {
  let out = "";
  while (out.length < length) {
    for (const b of random(length * 2)) {
      // Rejection sampling keeps the distribution uniform.
      if (b < 248 && out.length < length) out += ALPHABET[b % 62];
    }
  }
  return out;
}
