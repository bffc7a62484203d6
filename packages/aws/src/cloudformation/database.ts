import { type Model, RDS_POSTGRES_ENGINE_VERSIONS } from "@mlflow-dev/spec";
import { awsTarget } from "../context.ts";
import { LOGICAL, PARAM, resourcePrefix } from "../names.ts";
import type { NetworkRefs } from "./network.ts";
import { tagList } from "./tags.ts";
import { getAtt, type Resources } from "./types.ts";

/** RDS PostgreSQL in the private subnets; the password is a Secrets Manager dynamic reference. */
export function toDatabase(model: Model, net: NetworkRefs): Resources {
  const t = awsTarget(model);
  const p = resourcePrefix(model);
  const db = t.database;
  return {
    [LOGICAL.dbSubnetGroup]: {
      Type: "AWS::RDS::DBSubnetGroup",
      Properties: {
        DBSubnetGroupDescription: `${p} private subnets`,
        SubnetIds: net.privateSubnets,
        Tags: tagList(model, p),
      },
    },
    [LOGICAL.db]: {
      Type: "AWS::RDS::DBInstance",
      DeletionPolicy: "Snapshot",
      UpdateReplacePolicy: "Snapshot",
      Properties: {
        Engine: "postgres",
        EngineVersion: RDS_POSTGRES_ENGINE_VERSIONS[model.database.majorVersion] ?? String(model.database.majorVersion),
        DBInstanceClass: db.instanceClass,
        AllocatedStorage: String(db.allocatedStorage),
        StorageType: "gp3",
        StorageEncrypted: true,
        PubliclyAccessible: false,
        MultiAZ: db.multiAz,
        BackupRetentionPeriod: db.backupRetentionDays,
        DeletionProtection: db.deletionProtection,
        CopyTagsToSnapshot: true,
        AutoMinorVersionUpgrade: true,
        DBName: model.database.name,
        MasterUsername: model.database.user,
        MasterUserPassword: { "Fn::Sub": `{{resolve:secretsmanager:\${${PARAM.secretArn("db-password")}}}}` },
        DBSubnetGroupName: { Ref: LOGICAL.dbSubnetGroup },
        VPCSecurityGroups: [getAtt(LOGICAL.dbSg, "GroupId")],
        EnableCloudwatchLogsExports: ["postgresql"],
        Tags: tagList(model, p),
      },
      Metadata: {
        checkov: {
          skip: [
            { id: "CKV_AWS_118", comment: "enhanced monitoring needs an extra IAM role; off by default" },
            { id: "CKV_AWS_161", comment: "MLflow connects with a password from Secrets Manager, not IAM auth" },
          ],
        },
      },
    },
  };
}
