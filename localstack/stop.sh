#!/usr/bin/env bash
# Stop the local AWS emulator and remove what it started (see localstack/README.md):
# the emulator container (MiniStack or LocalStack), the ECS task and RDS
# containers it ran (with their anonymous volumes), the volume holding its RDS CA
# and the Docker network.
# All emulated AWS state is gone afterwards. Idempotent.
#
#   localstack/stop.sh                 stop and clean up
#   localstack/stop.sh --keep-network  keep the Docker network
set -euo pipefail

NETWORK=${MLFLOW_DEV_AWS_NETWORK:-mlflow-dev-aws}
MINISTACK_NAME=${MLFLOW_DEV_AWS_CONTAINER:-mlflow-dev-ministack}
LOCALSTACK_NAME=mlflow-dev-localstack
# MiniStack labels every container it starts with ministack.instance=HOST:PORT,
# HOST being its own hostname (start.sh sets it to the container name).
INSTANCE_LABEL="ministack.instance=$MINISTACK_NAME:4566"

log() { printf '[emulator] %s\n' "$*"; }
die() { printf '[emulator] error: %s\n' "$*" >&2; exit 1; }

KEEP_NETWORK=0
case "${1:-}" in
  "") ;;
  --keep-network) KEEP_NETWORK=1 ;;
  -h | --help) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument '$1' (use --keep-network or --help)" ;;
esac

command -v docker >/dev/null 2>&1 || die "docker not found on PATH"
docker info >/dev/null 2>&1 || die "the Docker engine does not answer ('docker info' fails)"

removed=0
for name in "$MINISTACK_NAME" "$LOCALSTACK_NAME"; do
  if docker inspect "$name" >/dev/null 2>&1; then
    docker rm -f -v "$name" >/dev/null
    log "removed the emulator container $name"
    removed=1
  fi
done

# Containers the emulator started: MiniStack's by label, and anything still
# attached to the emulator network (LocalStack's task containers).
mapfile -t ids < <(
  {
    docker ps -aq --filter "label=$INSTANCE_LABEL"
    if docker network inspect "$NETWORK" >/dev/null 2>&1; then
      docker ps -aq --filter "network=$NETWORK"
    fi
  } | sort -u
)
if ((${#ids[@]} > 0)); then
  docker rm -f -v "${ids[@]}" >/dev/null
  log "removed ${#ids[@]} container(s) the emulator started"
  removed=1
fi

# The volume holding MiniStack's RDS CA for ECS tasks (patch 15), once its tasks are gone.
mapfile -t volumes < <(docker volume ls -q --filter "label=mlflow-dev.emulator=ministack-rds-ca")
if ((${#volumes[@]} > 0)); then
  docker volume rm "${volumes[@]}" >/dev/null
  log "removed the emulator's RDS CA volume"
  removed=1
fi

if [[ $KEEP_NETWORK == 0 ]] && docker network inspect "$NETWORK" >/dev/null 2>&1; then
  docker network rm "$NETWORK" >/dev/null
  log "removed Docker network $NETWORK"
  removed=1
fi

[[ $removed == 1 ]] || log "nothing to stop"
