/**
 * CloudFormation intrinsic functions in their JSON form ({"Ref": ...}, {"Fn::GetAtt": [...]}),
 * so the YAML needs no custom tags and every parser reads it the same way.
 */

export type Expr = string | number | boolean | { [fn: string]: unknown };

export function ref(logicalId: string): { Ref: string } {
  return { Ref: logicalId };
}

export function getAtt(logicalId: string, attribute: string): { "Fn::GetAtt": [string, string] } {
  return { "Fn::GetAtt": [logicalId, attribute] };
}

export function sub(template: string): { "Fn::Sub": string } {
  return { "Fn::Sub": template };
}

export function join(delimiter: string, values: unknown[]): { "Fn::Join": [string, unknown[]] } {
  return { "Fn::Join": [delimiter, values] };
}

/** `then` when the condition holds, else `otherwise` (AWS::NoValue: the property is left out). */
export function ifCondition(condition: string, then: unknown, otherwise: unknown = NO_VALUE): { "Fn::If": unknown[] } {
  return { "Fn::If": [condition, then, otherwise] };
}

/** A property that is left out, inside Fn::If. */
export const NO_VALUE = { Ref: "AWS::NoValue" } as const;

/** The i-th availability zone of the stack's region. */
export function availabilityZone(index: number): { "Fn::Select": [number, { "Fn::GetAZs": string }] } {
  return { "Fn::Select": [index, { "Fn::GetAZs": "" }] };
}
