/**
 * The Fargate task size table: the valid memory values (MiB) for each CPU value (units).
 * Source: the Amazon ECS developer guide, "Task size" for the Fargate launch type.
 */
function range(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let v = from; v <= to; v += step) out.push(v);
  return out;
}

export const FARGATE_SIZES: ReadonlyMap<number, readonly number[]> = new Map([
  [256, [512, 1024, 2048]],
  [512, range(1024, 4096, 1024)],
  [1024, range(2048, 8192, 1024)],
  [2048, range(4096, 16384, 1024)],
  [4096, range(8192, 30720, 1024)],
  [8192, range(16384, 61440, 4096)],
  [16384, range(32768, 122880, 8192)],
]);

export const FARGATE_CPU_VALUES: readonly number[] = [...FARGATE_SIZES.keys()];

export type FargateCheck = { ok: true } | { ok: false; field: "cpu" | "memory"; message: string };

export function checkFargateSize(cpu: number, memory: number): FargateCheck {
  const memories = FARGATE_SIZES.get(cpu);
  if (!memories) {
    return {
      ok: false,
      field: "cpu",
      message: `Fargate does not support ${cpu} CPU units. Use one of ${FARGATE_CPU_VALUES.join(", ")}`,
    };
  }
  if (!memories.includes(memory)) {
    return {
      ok: false,
      field: "memory",
      message: `Fargate does not support ${memory} MiB of memory with ${cpu} CPU units. Use one of ${describeMemories(memories)}`,
    };
  }
  return { ok: true };
}

function describeMemories(memories: readonly number[]): string {
  if (memories.length <= 4) return memories.join(", ");
  const step = (memories[1] ?? 0) - (memories[0] ?? 0);
  return `${memories[0]} to ${memories[memories.length - 1]} in steps of ${step}`;
}
