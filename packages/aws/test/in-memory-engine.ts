import type { AwsClients } from "../src/deploy/engine/clients.ts";
import { type AwsEngine, createAwsEngine } from "../src/deploy/engine/engine.ts";
import { defaultWaits, type RunnerOptions } from "../src/deploy/options.ts";
import { fakeClock } from "./fake-clock.ts";
import { memoryReporter } from "./helpers.ts";

/**
 * The engine the operations get in unit tests: the engine's own verbs over the in-memory AWS
 * (fake-aws.ts, or a single mocked client), so an operation's branches run against the seam the
 * CLI gives them, with the real verbs' waits on a fake clock. Clients a test does not give are
 * absent: a verb that needs one fails loudly.
 */
export function inMemoryEngine(clients: Partial<AwsClients>, options?: Partial<RunnerOptions>): AwsEngine {
  return createAwsEngine({ region: "eu-west-1", endpointUrl: undefined, ...clients } as AwsClients, {
    report: options?.report ?? memoryReporter(),
    waits: options?.waits ?? defaultWaits(undefined),
    clock: options?.clock ?? fakeClock(),
  });
}

/**
 * An operation's last two arguments: the in-memory engine over the clients, on the options'
 * reporter and clock, then the options themselves (`promote(model, ...withEngine(fake.clients, opts))`).
 */
export function withEngine<O extends RunnerOptions>(clients: Partial<AwsClients>, options: O): [AwsEngine, O] {
  return [inMemoryEngine(clients, options), options];
}
