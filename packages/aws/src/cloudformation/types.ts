export type Resource = {
  Type: string;
  Properties: Record<string, unknown>;
  DependsOn?: string | string[];
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  Condition?: string;
  Metadata?: Record<string, unknown>;
};
export type Resources = Record<string, Resource>;

export const ref = (name: string) => ({ Ref: name });
export const getAtt = (name: string, attr: string) => ({ "Fn::GetAtt": [name, attr] });
export const sub = (s: string) => ({ "Fn::Sub": s });
