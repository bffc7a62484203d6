import type { SecretsManager } from "@aws-sdk/client-secrets-manager";
import type { Reporter } from "@mlflow-dev/kernel/progress";
import { newSecret } from "@mlflow-dev/kernel/random";
import type { SecretName } from "@mlflow-dev/spec";
import type { AwsModel } from "../../render/aws-model.ts";
import { toTags } from "../../render/cloudformation/tags.ts";
import { secretName } from "../../render/names.ts";
import { awsErrorMessage, awsErrorName, DeployError } from "../errors.ts";

export type SecretState = "exists" | "missing" | "scheduled-for-deletion";

export interface SecretStatus {
  name: SecretName;
  /** The Secrets Manager name, mlflow-dev/<name>/<env>/<secret>. */
  id: string;
  state: SecretState;
  arn?: string;
}

/** Where each of the Model's secrets stands, without changing anything (for plan). */
export async function describeSecrets(sm: SecretsManager, model: AwsModel): Promise<SecretStatus[]> {
  const out: SecretStatus[] = [];
  for (const ref of model.mlflow.secrets) {
    const id = secretName(model, ref.name);
    try {
      const d = await sm.describeSecret({ SecretId: id });
      out.push({
        name: ref.name,
        id,
        state: d.DeletedDate ? "scheduled-for-deletion" : "exists",
        ...(d.ARN ? { arn: d.ARN } : {}),
      });
    } catch (e) {
      if (awsErrorName(e) !== "ResourceNotFoundException")
        throw new DeployError(`cannot read secret ${id}: ${awsErrorMessage(e)}`, { cause: e });
      out.push({ name: ref.name, id, state: "missing" });
    }
  }
  return out;
}

/**
 * A new secret's value: the one generator's letters and digits (RDS accepts them in a master
 * password), 43 of them: about 256 bits.
 */
export function generateSecretValue(): string {
  return newSecret(43);
}

export interface EnsuredSecrets {
  arns: Partial<Record<SecretName, string>>;
  created: string[];
  restored: string[];
}

/**
 * Creates each missing secret once, with a generated value that is never printed. An existing
 * secret is kept as it is (never rotated); one scheduled for deletion (by `destroy`) is restored,
 * so it still matches the database it protects.
 */
export async function ensureSecrets(sm: SecretsManager, model: AwsModel, report: Reporter): Promise<EnsuredSecrets> {
  const result: EnsuredSecrets = { arns: {}, created: [], restored: [] };
  for (const status of await describeSecrets(sm, model)) {
    const ref = model.mlflow.secrets.find((s) => s.name === status.name);
    if (status.state === "exists" && status.arn) {
      result.arns[status.name] = status.arn;
      report.info(`kept ${status.id}`);
      continue;
    }
    try {
      if (status.state === "scheduled-for-deletion") {
        const r = await sm.restoreSecret({ SecretId: status.id });
        result.arns[status.name] = r.ARN ?? status.arn ?? "";
        result.restored.push(status.id);
        report.info(`restored ${status.id} (it was scheduled for deletion by destroy; its value is unchanged)`);
        continue;
      }
      const r = await sm.createSecret({
        Name: status.id,
        Description: `mlflow-dev: ${ref?.description ?? status.name} (${model.name}/${model.environment}). Generated once; never rotated by mlflow-dev.`,
        SecretString: generateSecretValue(),
        Tags: toTags(model),
      });
      if (!r.ARN) throw new Error("CreateSecret returned no ARN");
      result.arns[status.name] = r.ARN;
      result.created.push(status.id);
      report.info(`created ${status.id} (generated value, not shown)`);
    } catch (e) {
      throw new DeployError(`cannot create secret ${status.id}: ${awsErrorMessage(e)}`, {
        hint: "Check the credentials' secretsmanager:CreateSecret permission, then run promote again.",
        cause: e,
      });
    }
  }
  return result;
}

/** Reads a secret's value, for the smoke test with basic auth. The value is never printed. */
export async function readSecretValue(sm: SecretsManager, arn: string): Promise<string> {
  const r = await sm.getSecretValue({ SecretId: arn });
  return r.SecretString ?? "";
}

/**
 * Deletes the Model's secrets: scheduled for deletion with a recovery window (promote restores
 * them), or at once with force (destroy --delete-data).
 */
export async function deleteSecrets(
  sm: SecretsManager,
  model: AwsModel,
  options: { force: boolean; recoveryDays?: number },
  report: Reporter,
): Promise<string[]> {
  const deleted: string[] = [];
  for (const status of await describeSecrets(sm, model)) {
    if (status.state === "missing") continue;
    if (status.state === "scheduled-for-deletion" && !options.force) continue;
    await sm.deleteSecret({
      SecretId: status.id,
      ...(options.force ? { ForceDeleteWithoutRecovery: true } : { RecoveryWindowInDays: options.recoveryDays ?? 7 }),
    });
    deleted.push(status.id);
    report.info(
      options.force
        ? `deleted secret ${status.id}`
        : `scheduled secret ${status.id} for deletion in ${options.recoveryDays ?? 7} days (promote restores it)`,
    );
  }
  return deleted;
}
