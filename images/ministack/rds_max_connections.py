"""RDS's default max_connections for PostgreSQL on an instance class, for the emulated RDS.

RDS sets max_connections to LEAST(DBInstanceClassMemory / 9531392, 5000). DBInstanceClassMemory
is the class's memory less what RDS keeps for the operating system, which AWS does not publish;
mlflow-dev counts three quarters of the class's memory. The table and the arithmetic are
mlflow-dev's own (packages/spec/src/connection-budget.ts, `rdsMaxConnections`): a unit test
(packages/spec/test/rds-max-connections-emulator.test.ts) runs this file and checks that both give
the same number for every class, so the emulator's database refuses connections where validate
says RDS would.

Run as a program, it prints `<class> <max_connections or ->` for each class given.
"""

import re
import sys

CLASS_MEMORY_SHARE = 0.75
BYTES_PER_CONNECTION = 9_531_392
RDS_MAX_CONNECTIONS_CAP = 5000

# Memory (GiB) of an RDS instance class size, for the families whose memory follows their size.
SIZE_MEMORY_GIB = {
    "burstable": {"micro": 1, "small": 2, "medium": 4, "large": 8, "xlarge": 16, "2xlarge": 32},
    "general": {"large": 8, "xlarge": 16, "2xlarge": 32, "4xlarge": 64, "8xlarge": 128, "12xlarge": 192,
                "16xlarge": 256},
    "memory": {"large": 16, "xlarge": 32, "2xlarge": 64, "4xlarge": 128, "8xlarge": 256, "12xlarge": 384,
               "16xlarge": 512},
}


def _family_kind(family):
    if re.fullmatch(r"t[34]g?", family):
        return "burstable"
    if re.fullmatch(r"m[5-8][a-z]*", family):
        return "general"
    if re.fullmatch(r"r[5-8][a-z]*", family):
        return "memory"
    return None


def instance_class_memory_gib(instance_class):
    """The class's memory in GiB, or None for a class whose memory is not in the table."""
    match = re.fullmatch(r"db\.([a-z0-9]+)\.([a-z0-9]+)", instance_class or "")
    if not match:
        return None
    kind = _family_kind(match.group(1))
    return SIZE_MEMORY_GIB.get(kind, {}).get(match.group(2)) if kind else None


def max_connections(instance_class):
    """RDS's default max_connections for PostgreSQL on this class, or None when the class is unknown."""
    gib = instance_class_memory_gib(instance_class)
    if gib is None:
        return None
    memory = gib * 1024 ** 3 * CLASS_MEMORY_SHARE
    return min(int(memory // BYTES_PER_CONNECTION), RDS_MAX_CONNECTIONS_CAP)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        value = max_connections(name)
        print(name, "-" if value is None else value)
