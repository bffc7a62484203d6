import { randomUUID } from "node:crypto";
import { hostname, userInfo } from "node:os";
import type { SSM } from "@aws-sdk/client-ssm";
import { processSignals, type SignalHost } from "@mlflow-dev/kernel/signals";
import type { AwsModel } from "../../render/aws-model.ts";
import { lockParameterName } from "../../render/names.ts";
import { awsErrorMessage, awsErrorName, DeployError } from "../errors.ts";

/**
 * One deploy at a time per environment. The lock is an SSM parameter created with
 * Overwrite=false, which AWS creates atomically: a second promote gets ParameterAlreadyExists.
 * It lives outside the process, so it survives a crash; `mlflow-dev unlock --env <name>` removes it.
 */
export interface LockHolder {
  id: string;
  command: string;
  user: string;
  host: string;
  pid: number;
  startedAt: string;
}

export interface HeldLock {
  holder: LockHolder;
  release(): Promise<void>;
}

export function describeHolder(h: LockHolder): string {
  return `${h.command} by ${h.user}@${h.host} (pid ${h.pid}) since ${h.startedAt}`;
}

export function parseHolder(value: string | undefined): LockHolder | undefined {
  if (!value) return undefined;
  try {
    const o = JSON.parse(value) as Partial<LockHolder>;
    if (typeof o.id !== "string") return undefined;
    return {
      id: o.id,
      command: String(o.command ?? "?"),
      user: String(o.user ?? "?"),
      host: String(o.host ?? "?"),
      pid: Number(o.pid ?? 0),
      startedAt: String(o.startedAt ?? "?"),
    };
  } catch {
    return undefined;
  }
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}

export async function acquireLock(ssm: SSM, model: AwsModel, command: string): Promise<HeldLock> {
  const name = lockParameterName(model);
  const holder: LockHolder = {
    id: randomUUID(),
    command,
    user: currentUser(),
    host: hostname(),
    pid: process.pid,
    startedAt: new Date().toISOString(),
  };
  try {
    await ssm.putParameter({
      Name: name,
      Type: "String",
      Value: JSON.stringify(holder),
      Overwrite: false,
      Description: `mlflow-dev deploy lock of ${model.name}/${model.environment}: remove with mlflow-dev unlock --env ${model.environment}`,
    });
  } catch (e) {
    if (awsErrorName(e) !== "ParameterAlreadyExists")
      throw new DeployError(`cannot take the deploy lock (${name}): ${awsErrorMessage(e)}`, { cause: e });
    const other = await readLock(ssm, model);
    throw new DeployError(
      `refused: another deploy of ${model.environment} holds its lock (${other ? describeHolder(other) : "holder unknown"})`,
      {
        hint: `Wait for it to finish. If it was interrupted (a crash, Ctrl-C, a lost CI runner), release the lock with: mlflow-dev unlock --env ${model.environment}`,
      },
    );
  }
  return {
    holder,
    release: async () => {
      const now = await readLock(ssm, model);
      // Someone ran unlock and another deploy took the lock: it is not ours to remove.
      if (now && now.id !== holder.id) return;
      await deleteLockParameter(ssm, name);
    },
  };
}

export async function readLock(ssm: SSM, model: AwsModel): Promise<LockHolder | undefined> {
  try {
    const r = await ssm.getParameter({ Name: lockParameterName(model) });
    return (
      parseHolder(r.Parameter?.Value) ?? {
        id: "?",
        command: "?",
        user: "?",
        host: "?",
        pid: 0,
        startedAt: r.Parameter?.LastModifiedDate?.toISOString() ?? "?",
      }
    );
  } catch (e) {
    if (awsErrorName(e) === "ParameterNotFound") return undefined;
    throw e;
  }
}

/** Removes the lock whoever holds it; returns the holder it removed, if any. */
export async function forceUnlock(ssm: SSM, model: AwsModel): Promise<LockHolder | undefined> {
  const holder = await readLock(ssm, model);
  if (!holder) return undefined;
  await deleteLockParameter(ssm, lockParameterName(model));
  return holder;
}

async function deleteLockParameter(ssm: SSM, name: string): Promise<void> {
  try {
    await ssm.deleteParameter({ Name: name });
  } catch (e) {
    if (awsErrorName(e) !== "ParameterNotFound") throw e;
  }
}

/** 128 + the signal's number, as shells report it. */
const SIGNAL_EXIT: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };

/**
 * Runs fn while holding the lock; releases it afterwards, whatever happened. Ctrl-C or SIGTERM
 * while it runs releases the lock before the process exits (what AWS was asked to do goes on, and
 * the next promote waits for the stack to settle); a second signal exits at once.
 */
export async function withLock<T>(
  ssm: SSM,
  model: AwsModel,
  command: string,
  fn: () => Promise<T>,
  host: SignalHost = processSignals,
): Promise<T> {
  const lock = await acquireLock(ssm, model, command);
  let interrupted = false;
  const handlers = (Object.keys(SIGNAL_EXIT) as NodeJS.Signals[]).map((signal) => {
    const code = SIGNAL_EXIT[signal] ?? 1;
    const handler = () => {
      if (interrupted) return host.exit(code);
      interrupted = true;
      host.warn(
        `\n${signal}: ${command} ${model.environment} interrupted; releasing its deploy lock (a second signal exits at once and leaves it for \`mlflow-dev unlock --env ${model.environment}\`). What AWS was already doing goes on: see the stack's events.\n`,
      );
      lock.release().then(
        () => host.exit(code),
        (e: unknown) => {
          host.warn(
            `could not release the lock: ${awsErrorMessage(e)}. Release it with: mlflow-dev unlock --env ${model.environment}\n`,
          );
          host.exit(code);
        },
      );
    };
    host.on(signal, handler);
    return [signal, handler] as const;
  });
  try {
    return await fn();
  } finally {
    for (const [signal, handler] of handlers) host.off(signal, handler);
    if (!interrupted) await lock.release();
  }
}
