import type { AwsModel } from "../aws-model.ts";
import { ConditionName, LogicalId, ParameterName, secretParameterName, stackName } from "../names.ts";
import { getAtt, ifCondition, NO_VALUE, ref, sub } from "./intrinsics.ts";
import type { NetworkRefs } from "./network.ts";
import { type Resources, resource, type Suppression } from "./resource.ts";
import { toTags } from "./tags.ts";

/**
 * RDS PostgreSQL in the private subnets. The master password is never in the template: it is a
 * dynamic reference to the db-password secret, which the deploy tool creates before the stack and
 * passes in as the DbPasswordSecretArn parameter.
 */
export function toDatabase(model: AwsModel, network: NetworkRefs): Resources {
  return {
    [LogicalId.databaseSubnetGroup]: resource("AWS::RDS::DBSubnetGroup", {
      DBSubnetGroupDescription: `${stackName(model)} database: private subnets`,
      SubnetIds: network.privateSubnetIds,
      Tags: toTags(model),
    }),
    // Every connection to the instance uses TLS: rds.force_ssl is 0 by default before PostgreSQL
    // 15, so the parameter group sets it for every major the spec allows (the server's libpq
    // verifies the certificate and the endpoint's name: PGSSLMODE=verify-full against the RDS CA
    // bundle in the image, runtime bindings).
    [LogicalId.databaseParameterGroup]: resource("AWS::RDS::DBParameterGroup", {
      Description: `${stackName(model)} database: TLS required`,
      Family: `postgres${model.database.majorVersion}`,
      Parameters: { "rds.force_ssl": "1" },
      Tags: toTags(model),
    }),
    [LogicalId.database]: toDbInstance(model),
  };
}

/** `{{resolve:secretsmanager:<arn>}}`: CloudFormation reads the secret at deploy time. */
export function masterPasswordReference(): { "Fn::Sub": string } {
  return sub(`{{resolve:secretsmanager:\${${secretParameterName("db-password")}}}}`);
}

function toDbInstance(model: AwsModel) {
  const db = model.target.database;
  return resource(
    "AWS::RDS::DBInstance",
    {
      Engine: "postgres",
      EngineVersion: String(model.database.majorVersion),
      AutoMinorVersionUpgrade: true,
      DBInstanceClass: db.instanceClass,
      AllocatedStorage: String(db.allocatedStorage),
      StorageType: "gp3",
      StorageEncrypted: true,
      // A database restored from a snapshot keeps the snapshot's name and master user; the
      // snapshot stays named on every later update (without it RDS replaces the instance with an
      // empty one). The master password is set from the secret either way.
      DBSnapshotIdentifier: ifCondition(ConditionName.databaseFromSnapshot, ref(ParameterName.databaseSnapshot)),
      DBName: ifCondition(ConditionName.databaseFromSnapshot, NO_VALUE, model.database.name),
      MasterUsername: ifCondition(ConditionName.databaseFromSnapshot, NO_VALUE, model.database.user),
      MasterUserPassword: masterPasswordReference(),
      Port: String(model.database.port),
      DBSubnetGroupName: ref(LogicalId.databaseSubnetGroup),
      DBParameterGroupName: ref(LogicalId.databaseParameterGroup),
      VPCSecurityGroups: [getAtt(LogicalId.databaseSecurityGroup, "GroupId")],
      PubliclyAccessible: false,
      MultiAZ: db.multiAz,
      BackupRetentionPeriod: db.backupRetentionDays,
      DeletionProtection: db.deletionProtection,
      CopyTagsToSnapshot: true,
      Tags: toTags(model),
    },
    { onDelete: "Snapshot", suppress: { cfnLint: [MAJOR_ONLY_ENGINE_VERSION], checkov: databaseSuppressions(model) } },
  );
}

/**
 * cfn-lint's RDS version table marks the bare major versions ("16", "17") deprecated, but RDS
 * accepts a major version and picks its default minor; together with AutoMinorVersionUpgrade this
 * keeps the instance patched without pinning a minor version that RDS later retires.
 */
const MAJOR_ONLY_ENGINE_VERSION: Suppression = {
  id: "W3691",
  reason:
    "EngineVersion is the major version only: RDS picks the default minor version and AutoMinorVersionUpgrade keeps it patched",
};

function databaseSuppressions(model: AwsModel): Suppression[] {
  const db = model.target.database;
  const env = `environments.${model.environment}.database`;
  return [
    {
      id: "CKV_AWS_118",
      reason: "Enhanced monitoring needs a monitoring role and costs extra; CloudWatch's standard RDS metrics are kept",
    },
    {
      id: "CKV_AWS_161",
      reason:
        "MLflow connects with a password from Secrets Manager (SQLAlchemy URI); IAM database auth tokens expire every 15 minutes and MLflow cannot refresh them",
    },
    ...(db.multiAz ? [] : [{ id: "CKV_AWS_157", reason: `${env}.multiAz is false in the spec (single-AZ by choice)` }]),
  ];
}
