import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  checkAllowReplace,
  classifyStatefulChanges,
  refusedStatefulChanges,
  resourceChangeOf,
  type SdkResourceChange,
  statefulRefusal,
} from "../src/deploy/index.ts";

/**
 * The stateful-change check over change sets in the shape DescribeChangeSet returns them
 * (test/recorded/change-set-*.json): which spec edits would replace or remove a resource holding
 * data, and what the refusal names.
 */

function changeSet(name: string) {
  const body = JSON.parse(readFileSync(new URL(`./recorded/change-set-${name}.json`, import.meta.url), "utf8")) as {
    Changes: { ResourceChange: SdkResourceChange }[];
  };
  return body.Changes.map((c) => resourceChangeOf(c.ResourceChange));
}

describe("classifyStatefulChanges", () => {
  it("backend.database: the DB instance is replaced, caused by DBName", () => {
    const s = classifyStatefulChanges(changeSet("backend-database"), "staging");
    expect(s).toEqual([
      {
        logicalId: "Database",
        type: "AWS::RDS::DBInstance",
        physicalId: "tracking-staging-db",
        kind: "replace",
        holds: expect.stringContaining("the database"),
        causes: ["backend.database (DBName)"],
      },
    ]);
  });

  it("backend.user: the DB instance is replaced, caused by MasterUsername", () => {
    expect(classifyStatefulChanges(changeSet("backend-user"), "staging").map((s) => s.causes)).toEqual([
      ["backend.user (MasterUsername)"],
    ]);
  });

  it("network.cidr: the VPC is replaced (subnets and security groups are not stateful, the subnet group is modified in place)", () => {
    const s = classifyStatefulChanges(changeSet("network-cidr"), "staging");
    expect(s.map((c) => [c.logicalId, c.kind, c.causes])).toEqual([
      ["Vpc", "replace", ["environments.staging.network.cidr (CidrBlock)"]],
    ]);
  });

  it("the bucket: replaced, caused by BucketName; its policy is not stateful", () => {
    const s = classifyStatefulChanges(changeSet("bucket"), "staging");
    expect(s.map((c) => [c.logicalId, c.kind, c.causes])).toEqual([
      ["ArtifactBucket", "replace", ["environments.staging.bucket (or artifacts.bucket) (BucketName)"]],
    ]);
  });

  it("Conditional: refused when a detail may recreate or none is given, updated in place when every detail says Never", () => {
    const conditional = (recreation?: string) =>
      resourceChangeOf({
        Action: "Modify",
        LogicalResourceId: "Database",
        PhysicalResourceId: "tracking-staging-db",
        ResourceType: "AWS::RDS::DBInstance",
        Replacement: "Conditional",
        Details:
          recreation === undefined
            ? []
            : [
                {
                  Target: { Attribute: "Properties", Name: "BackupRetentionPeriod", RequiresRecreation: "Never" },
                  Evaluation: "Static",
                  ChangeSource: "DirectModification",
                },
                {
                  Target: { Attribute: "Properties", Name: "AllocatedStorage", RequiresRecreation: recreation },
                  Evaluation: "Static",
                  ChangeSource: "DirectModification",
                },
              ],
      } as unknown as SdkResourceChange);
    expect(classifyStatefulChanges([conditional("Never")], "staging")).toEqual([]);
    expect(classifyStatefulChanges([conditional("Conditionally")], "staging").map((c) => [c.kind, c.causes])).toEqual([
      ["may-replace", ["AllocatedStorage"]],
    ]);
    expect(classifyStatefulChanges([conditional()], "staging").map((c) => c.kind)).toEqual(["may-replace"]);
  });

  it("a removed database is a deletion", () => {
    expect(classifyStatefulChanges(changeSet("database-removed"), "staging").map((c) => c.kind)).toEqual(["remove"]);
  });

  it("changes that keep every stateful resource (tags on the database, the service, logs) are not flagged", () => {
    expect(classifyStatefulChanges(changeSet("harmless"), "staging")).toEqual([]);
  });

  it("a Conditional replacement counts; the cause is the detail that may recreate, with its causing entity", () => {
    const s = classifyStatefulChanges(
      [
        resourceChangeOf({
          Action: "Modify",
          LogicalResourceId: "Database",
          ResourceType: "AWS::RDS::DBInstance",
          Replacement: "Conditional",
          Details: [
            { Target: { Attribute: "Properties", Name: "VPCSecurityGroups", RequiresRecreation: "Never" } },
            {
              Target: { Attribute: "Properties", Name: "DBSubnetGroupName", RequiresRecreation: "Conditionally" },
              ChangeSource: "ResourceReference",
              CausingEntity: "DatabaseSubnetGroup",
            },
          ],
        }),
      ],
      "prod",
    );
    expect(s.map((c) => [c.kind, c.causes])).toEqual([
      [
        "may-replace",
        [
          "environments.prod.network (the database's subnets) (DBSubnetGroupName), because DatabaseSubnetGroup is replaced",
        ],
      ],
    ]);
  });
});

describe("the refusal", () => {
  it("names the resource, the spec key and the flag; --allow-replace lets exactly that resource through", () => {
    const s = classifyStatefulChanges([...changeSet("backend-database"), ...changeSet("bucket")], "staging");
    const refused = refusedStatefulChanges(s, []);
    const e = statefulRefusal(refused, "staging");
    expect(e.kind).toBe("input");
    expect(e.message).toContain("Database (AWS::RDS::DBInstance tracking-staging-db) would be REPLACED");
    expect(e.message).toContain("backend.database (DBName)");
    expect(e.message).toContain("ArtifactBucket");
    expect(e.hint).toContain("--allow-replace Database --allow-replace ArtifactBucket");
    expect(refusedStatefulChanges(s, ["Database"]).map((c) => c.logicalId)).toEqual(["ArtifactBucket"]);
    expect(refusedStatefulChanges(s, ["Database", "ArtifactBucket"])).toEqual([]);
  });

  it("--allow-replace of something that is not a stateful resource is a usage error", () => {
    expect(() => checkAllowReplace(["Database", "Vpc"])).not.toThrow();
    expect(() => checkAllowReplace(["Databse"])).toThrow(/--allow-replace Databse: not a stateful resource/);
  });
});
