import { LogicalId } from "../names.ts";

/**
 * The stack policy mlflow-dev keeps on every stack (pure): any update is allowed, except replacing
 * or deleting a resource that holds the service's data. CloudFormation checks it on every update,
 * whoever runs it (the console, another tool, a promote of a changed spec); promote swaps in a
 * policy without the resources the user named with --allow-replace only while it executes that
 * change set.
 */

/** The resources that hold the service's data (or that their replacement would empty). */
export const PROTECTED_LOGICAL_IDS: readonly string[] = [
  LogicalId.database,
  LogicalId.artifactBucket,
  LogicalId.databaseSubnetGroup,
  LogicalId.vpc,
];

export interface StackPolicy {
  Statement: {
    Effect: "Allow" | "Deny";
    Action: string | string[];
    Principal: "*";
    Resource: string | string[];
  }[];
}

/** The policy, with the resources in `allowed` left unprotected (promote --allow-replace, a restore). */
export function stackPolicy(allowed: readonly string[] = []): StackPolicy {
  const protectedIds = PROTECTED_LOGICAL_IDS.filter((id) => !allowed.includes(id));
  return {
    Statement: [
      { Effect: "Allow", Action: "Update:*", Principal: "*", Resource: "*" },
      ...(protectedIds.length
        ? [
            {
              Effect: "Deny" as const,
              Action: ["Update:Replace", "Update:Delete"],
              Principal: "*" as const,
              Resource: protectedIds.map((id) => `LogicalResourceId/${id}`),
            },
          ]
        : []),
    ],
  };
}
