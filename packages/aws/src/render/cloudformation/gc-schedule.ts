import { gcArgv, type Model, oneOffCommand } from "@mlflow-dev/spec";
import type { AwsModel } from "../aws-model.ts";
import { CONTAINER_NAME, ConditionName, LogicalId, ParameterName, stackName, taskFamily } from "../names.ts";
import { getAtt, ref, sub } from "./intrinsics.ts";
import { type NetworkRefs, taskAssignPublicIp } from "./network.ts";
import { type Resources, resource } from "./resource.ts";
import { toTags } from "./tags.ts";

/**
 * The scheduled gc (gc.schedule): an EventBridge Scheduler schedule that runs `mlflow-dev gc`'s
 * program (spec/gc-command.ts) as a one-off Fargate task of the service's own task definition, as
 * `gc --env` does on demand: the same image, environment, secrets and roles, placed as the
 * service's tasks are (their subnets and security group, their public IP setting), with the
 * container's command replaced. Its target is the stack's TaskDefinitionArn parameter, the
 * revision the service runs, so every promote that registers a new revision moves the schedule
 * with the service; like the service, it exists once that parameter is set. Nothing when the
 * spec sets no schedule. Pure.
 *
 * Its role may start tasks of the server's task definition family in this cluster only, tag the
 * tasks it starts, and pass the task's two roles to ECS, nothing else.
 */

/** `group` of the tasks the schedule starts (what `ecs list-tasks` and the console show). */
export const GC_TASK_GROUP = "mlflow-dev-gc";

/** The RunTask overrides the schedule passes (its Input): the server's container runs gc instead of the server. */
export function gcScheduleOverrides(model: Pick<Model, "mlflow" | "gc">): {
  containerOverrides: { name: string; command: string[] }[];
} {
  return {
    containerOverrides: [
      { name: CONTAINER_NAME, command: oneOffCommand(model.mlflow.server, gcArgv(model.gc.olderThanDays, false)) },
    ],
  };
}

export function toGcSchedule(model: AwsModel, network: NetworkRefs): Resources {
  const schedule = model.gc.schedule;
  if (schedule === undefined) return {};
  const days = model.gc.olderThanDays;
  return {
    [LogicalId.gcScheduleRole]: resource(
      "AWS::IAM::Role",
      {
        Description: `${stackName(model)}: EventBridge Scheduler starts the scheduled gc task of the MLflow service`,
        AssumeRolePolicyDocument: {
          Version: "2012-10-17",
          Statement: [
            {
              Effect: "Allow",
              Principal: { Service: "scheduler.amazonaws.com" },
              Action: "sts:AssumeRole",
              Condition: { StringEquals: { "aws:SourceAccount": ref("AWS::AccountId") } },
            },
          ],
        },
        Policies: [
          {
            PolicyName: "run-gc-task",
            PolicyDocument: {
              Version: "2012-10-17",
              Statement: [
                {
                  Sid: "RunServerTaskDefinition",
                  Effect: "Allow",
                  Action: "ecs:RunTask",
                  Resource: sub(
                    `arn:\${AWS::Partition}:ecs:\${AWS::Region}:\${AWS::AccountId}:task-definition/${taskFamily(model)}:*`,
                  ),
                  Condition: { ArnEquals: { "ecs:cluster": getAtt(LogicalId.cluster, "Arn") } },
                },
                {
                  Sid: "TagStartedTasks",
                  Effect: "Allow",
                  Action: "ecs:TagResource",
                  Resource: sub(
                    `arn:\${AWS::Partition}:ecs:\${AWS::Region}:\${AWS::AccountId}:task/\${${LogicalId.cluster}}/*`,
                  ),
                  Condition: { StringEquals: { "ecs:CreateAction": "RunTask" } },
                },
                {
                  Sid: "PassTaskRoles",
                  Effect: "Allow",
                  Action: "iam:PassRole",
                  Resource: [getAtt(LogicalId.executionRole, "Arn"), getAtt(LogicalId.taskRole, "Arn")],
                  Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
                },
              ],
            },
          },
        ],
        Tags: toTags(model),
      },
      { condition: ConditionName.hasTaskDefinition },
    ),
    [LogicalId.gcSchedule]: resource(
      "AWS::Scheduler::Schedule",
      {
        Description: `${stackName(model)}: mlflow-dev gc (runs and experiments deleted more than ${days} days ago, with their artifacts)`,
        ScheduleExpression: schedule,
        ScheduleExpressionTimezone: "UTC",
        FlexibleTimeWindow: { Mode: "OFF" },
        State: "ENABLED",
        Target: {
          Arn: getAtt(LogicalId.cluster, "Arn"),
          RoleArn: getAtt(LogicalId.gcScheduleRole, "Arn"),
          EcsParameters: {
            TaskDefinitionArn: ref(ParameterName.taskDefinitionArn),
            LaunchType: "FARGATE",
            TaskCount: 1,
            Group: GC_TASK_GROUP,
            NetworkConfiguration: {
              AwsvpcConfiguration: {
                AssignPublicIp: taskAssignPublicIp(model),
                SecurityGroups: [getAtt(LogicalId.taskSecurityGroup, "GroupId")],
                Subnets: network.taskSubnetIds,
              },
            },
            EnableECSManagedTags: true,
            PropagateTags: "TASK_DEFINITION",
          },
          Input: JSON.stringify(gcScheduleOverrides(model)),
          // gc is idempotent: a run that could not start is retried for an hour, then left to the next one.
          RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 3 },
        },
      },
      { condition: ConditionName.hasTaskDefinition },
    ),
  };
}
