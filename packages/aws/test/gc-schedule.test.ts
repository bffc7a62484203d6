import { gcArgv, oneOffCommand } from "@mlflow-dev/spec";
import { describe, expect, it } from "vitest";
import {
  ConditionName,
  checkCompatibility,
  ECS_RUN_TASK_OVERRIDES_MAX_BYTES,
  GC_TASK_GROUP,
  LogicalId,
  OutputName,
  ParameterName,
  taskFamily,
  toTemplate,
} from "../src/index.ts";
import { exampleModel, modelFromYaml, VARIANT_SPECS } from "./helpers.ts";

/** The scheduled gc (gc.schedule): a schedule running gc as a one-off task of the service's own revision. */

const scheduled = () => exampleModel("existing-vpc", "prod");
const publicEgress = () => {
  const v = VARIANT_SPECS["existing-vpc-public"];
  if (!v) throw new Error("variant existing-vpc-public is missing");
  return modelFromYaml(v.yaml, v.environment);
};

type Props = Record<string, unknown>;
const props = (template: ReturnType<typeof toTemplate>, id: string) => {
  const r = template.Resources[id];
  if (!r) throw new Error(`${id} is not rendered`);
  return r;
};

describe("the scheduled gc", () => {
  it("is not rendered when the spec sets no gc.schedule", () => {
    const template = toTemplate(exampleModel("basic", "staging"));
    expect(Object.keys(template.Resources)).not.toContain(LogicalId.gcSchedule);
    expect(Object.keys(template.Resources)).not.toContain(LogicalId.gcScheduleRole);
    expect(Object.keys(template.Outputs)).not.toContain(OutputName.gcScheduleName);
  });

  it.each([
    ["a cron schedule, private subnets", scheduled],
    ["a rate schedule, public subnets (egress: public)", publicEgress],
  ])("targets the service's own task definition, cluster and network: %s", (_label, model) => {
    const m = model();
    const template = toTemplate(m);
    const service = props(template, LogicalId.service);
    const schedule = props(template, LogicalId.gcSchedule);
    expect(schedule.Type).toBe("AWS::Scheduler::Schedule");
    // It exists exactly when the service does: once promote set the revision.
    expect(schedule.Condition).toBe(ConditionName.hasTaskDefinition);
    expect(props(template, LogicalId.gcScheduleRole).Condition).toBe(ConditionName.hasTaskDefinition);
    expect(schedule.Properties.ScheduleExpression).toBe(m.gc.schedule);
    expect(schedule.Properties.ScheduleExpressionTimezone).toBe("UTC");
    const target = schedule.Properties.Target as Props;
    const ecs = target.EcsParameters as Props;
    // The same revision as the service: the stack parameter each promote sets.
    expect(ecs.TaskDefinitionArn).toEqual({ Ref: ParameterName.taskDefinitionArn });
    expect(ecs.TaskDefinitionArn).toEqual(service.Properties.TaskDefinition);
    expect(target.Arn).toEqual({ "Fn::GetAtt": [LogicalId.cluster, "Arn"] });
    expect(service.Properties.Cluster).toEqual({ Ref: LogicalId.cluster });
    expect(target.RoleArn).toEqual({ "Fn::GetAtt": [LogicalId.gcScheduleRole, "Arn"] });
    expect(ecs).toMatchObject({ LaunchType: "FARGATE", TaskCount: 1, Group: GC_TASK_GROUP });
    // Placed as the service's tasks are: their subnets, security group and public IP setting.
    const network = (ecs.NetworkConfiguration as Props).AwsvpcConfiguration;
    expect(network).toEqual((service.Properties.NetworkConfiguration as Props).AwsvpcConfiguration);
    expect((network as Props).AssignPublicIp).toBe(m.target.network.egress === "public" ? "ENABLED" : "DISABLED");
    // The server's container runs gc's program (not a dry run) with the spec's retention.
    const input = JSON.parse(target.Input as string);
    expect(input).toEqual({
      containerOverrides: [
        { name: "mlflow", command: oneOffCommand(m.mlflow.server, gcArgv(m.gc.olderThanDays, false)) },
      ],
    });
    expect(new TextEncoder().encode(target.Input as string).length).toBeLessThanOrEqual(
      ECS_RUN_TASK_OVERRIDES_MAX_BYTES,
    );
    expect(template.Outputs[OutputName.gcScheduleName]).toEqual({
      Description: expect.stringContaining(m.gc.schedule as string),
      Condition: ConditionName.hasTaskDefinition,
      Value: { Ref: LogicalId.gcSchedule },
    });
    expect(checkCompatibility(m)).toEqual([]);
  });

  it("gives its role exactly: RunTask of the server's family in this cluster, tagging those tasks, passing the two task roles to ECS", () => {
    const m = scheduled();
    const role = props(toTemplate(m), LogicalId.gcScheduleRole);
    expect(role.Properties.AssumeRolePolicyDocument).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Principal: { Service: "scheduler.amazonaws.com" },
          Action: "sts:AssumeRole",
          Condition: { StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } } },
        },
      ],
    });
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    const policies = role.Properties.Policies as { PolicyDocument: { Statement: unknown[] } }[];
    expect(policies).toHaveLength(1);
    const ecs = "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}";
    expect(policies[0]?.PolicyDocument.Statement).toEqual([
      {
        Sid: "RunServerTaskDefinition",
        Effect: "Allow",
        Action: "ecs:RunTask",
        Resource: { "Fn::Sub": `${ecs}:task-definition/${taskFamily(m)}:*` },
        Condition: { ArnEquals: { "ecs:cluster": { "Fn::GetAtt": [LogicalId.cluster, "Arn"] } } },
      },
      {
        Sid: "TagStartedTasks",
        Effect: "Allow",
        Action: "ecs:TagResource",
        Resource: { "Fn::Sub": `${ecs}:task/\${${LogicalId.cluster}}/*` },
        Condition: { StringEquals: { "ecs:CreateAction": "RunTask" } },
      },
      {
        Sid: "PassTaskRoles",
        Effect: "Allow",
        Action: "iam:PassRole",
        Resource: [{ "Fn::GetAtt": [LogicalId.executionRole, "Arn"] }, { "Fn::GetAtt": [LogicalId.taskRole, "Arn"] }],
        Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
      },
    ]);
    // The migration family is not the server's: its tasks cannot be started by the schedule.
    expect(JSON.stringify(policies)).not.toContain("-migrate");
  });
});
