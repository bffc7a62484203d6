#!/usr/bin/env bash
# Start the local AWS emulator on 127.0.0.1:4566 (see localstack/README.md).
#
#   localstack/start.sh               MiniStack (free; the default, used in CI)
#   localstack/start.sh --localstack  LocalStack (needs LOCALSTACK_AUTH_TOKEN)
#
# Idempotent: a running, healthy emulator is reused. Environment:
#   MLFLOW_DEV_AWS_NETWORK=NAME   Docker network shared by the emulator and the
#                                 containers it starts (default mlflow-dev-aws)
#   MLFLOW_DEV_AWS_SUBNET=CIDR    its subnet (default 169.254.170.0/24, see below)
#   MLFLOW_DEV_AWS_PORT=PORT      host port on 127.0.0.1 (default 4566)
#   MLFLOW_DEV_AWS_REGION=REGION  default region (default us-east-1)
#   MLFLOW_DEV_AWS_WAIT=SECONDS   how long to wait for health (default 120)
#   MLFLOW_DEV_AWS_CONTAINER=NAME the MiniStack container (default mlflow-dev-ministack)
#   MINISTACK_IMAGE=REF           default mlflow-dev-local/ministack:<pins.json ministack>
#   MINISTACK_RDS_POSTGRES=REF    the PostgreSQL image MiniStack's RDS runs
#                                 (default mlflow-dev-local/postgres:<pins.json postgres.default>)
#   LOCALSTACK_IMAGE=REF          default localstack/localstack-pro:latest
set -euo pipefail
# shellcheck source=../scripts/lib/pins.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/pins.sh"

NETWORK=${MLFLOW_DEV_AWS_NETWORK:-mlflow-dev-aws}
# ECS task containers fetch their task-role credentials from
# AWS_CONTAINER_CREDENTIALS_FULL_URI, which MiniStack points at its own address
# on this network. The AWS SDKs accept a plain-HTTP credentials URI only from a
# loopback address or ECS's own 169.254.170.2, so MiniStack gets that address:
# the network uses ECS's link-local /24 and MiniStack takes .2.
SUBNET=${MLFLOW_DEV_AWS_SUBNET:-169.254.170.0/24}
PORT=${MLFLOW_DEV_AWS_PORT:-4566}
REGION=${MLFLOW_DEV_AWS_REGION:-us-east-1}
WAIT=${MLFLOW_DEV_AWS_WAIT:-120}
MINISTACK_IMAGE=${MINISTACK_IMAGE:-mlflow-dev-local/ministack:$PIN_MINISTACK}
RDS_POSTGRES=${MINISTACK_RDS_POSTGRES:-mlflow-dev-local/postgres:$PIN_POSTGRES_DEFAULT}
LOCALSTACK_IMAGE=${LOCALSTACK_IMAGE:-localstack/localstack-pro:latest}
# MiniStack's RDS derives its image name from the engine's major version,
# `postgres:<major>-alpine`, and prepends MINISTACK_IMAGE_PREFIX + "/". It has
# no setting for the name itself, so the PostgreSQL image is given that derived
# name as an extra tag under this prefix (same image ID; see README).
RDS_IMAGE_PREFIX=mlflow-dev-local/ministack-images
SOCKET=${MLFLOW_DEV_DOCKER_SOCKET:-/var/run/docker.sock}

MINISTACK_NAME=${MLFLOW_DEV_AWS_CONTAINER:-mlflow-dev-ministack}
LOCALSTACK_NAME=mlflow-dev-localstack

log() { printf '[emulator] %s\n' "$*"; }
die() { printf '[emulator] error: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }

usage() {
  sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

MODE=ministack
case "${1:-}" in
  "") ;;
  --localstack) MODE=localstack ;;
  --ministack) MODE=ministack ;;
  -h | --help) usage; exit 0 ;;
  *) die "unknown argument '$1' (use --localstack, --ministack or --help)" ;;
esac

command -v docker >/dev/null 2>&1 || die "docker not found on PATH"
docker info >/dev/null 2>&1 || die "the Docker engine does not answer ('docker info' fails); start it first (.ci/provision does)"
command -v curl >/dev/null 2>&1 || die "curl not found on PATH"

if [[ $MODE == localstack ]]; then
  NAME=$LOCALSTACK_NAME OTHER=$MINISTACK_NAME HEALTH_PATH=/_localstack/health
else
  NAME=$MINISTACK_NAME OTHER=$LOCALSTACK_NAME HEALTH_PATH=/_ministack/health
fi
HEALTH_URL="http://127.0.0.1:$PORT$HEALTH_PATH"

healthy() { curl -fsS --max-time 3 "$HEALTH_URL" >/dev/null 2>&1; }
running() { [[ $(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null) == true ]]; }

[[ $SUBNET =~ ^[0-9]+\.[0-9]+\.[0-9]+\.0/24$ ]] || die "MLFLOW_DEV_AWS_SUBNET=$SUBNET: expected an IPv4 /24 such as 169.254.170.0/24"

t0=$(now_ms)
subnet_base=${SUBNET%/*}
EMULATOR_IP=${subnet_base%.*}.2
GATEWAY_IP=${subnet_base%.*}.1

if running "$NAME" && healthy; then
  ip=$(docker inspect -f "{{with index .NetworkSettings.Networks \"$NETWORK\"}}{{.IPAddress}}{{end}}" "$NAME")
  if [[ $ip != "$EMULATOR_IP" ]]; then
    die "$NAME is running but not at $EMULATOR_IP on network $NETWORK (found '${ip:-none}'); restart it: localstack/stop.sh && localstack/start.sh (emulated state is lost)"
  fi
  # An image relabelled by provisioning (same layers, new metadata) is the same build.
  if [[ $MODE == ministack ]] &&
    [[ $(docker image inspect -f '{{.RootFS.Layers}}' "$(docker inspect -f '{{.Image}}' "$NAME")" 2>/dev/null) != \
      $(docker image inspect -f '{{.RootFS.Layers}}' "$MINISTACK_IMAGE" 2>/dev/null) ]]; then
    if [[ -n ${CI:-} ]]; then
      # CI tests the patches the checkout holds: an emulator of an older build is replaced.
      log "it runs an older build of $MINISTACK_IMAGE: restarting it on the new one (CI is set; emulated state is lost)"
      bash "$(dirname "${BASH_SOURCE[0]}")/stop.sh"
    else
      log "$MODE already running and healthy at http://127.0.0.1:$PORT (container $NAME): reused"
      log "note: it runs an older build of $MINISTACK_IMAGE; to use the new one (emulated state is lost): localstack/stop.sh && localstack/start.sh"
      exit 0
    fi
  else
    log "$MODE already running and healthy at http://127.0.0.1:$PORT (container $NAME): reused"
    exit 0
  fi
fi
if running "$OTHER"; then
  die "container $OTHER is running on the emulator port; stop it first: localstack/stop.sh"
fi


# The network must have the expected subnet; one left by an older setup is
# recreated when nothing is attached to it.
if docker network inspect "$NETWORK" >/dev/null 2>&1; then
  current=$(docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' "$NETWORK")
  if [[ $current != "$SUBNET" ]]; then
    attached=$(docker network inspect -f '{{len .Containers}}' "$NETWORK")
    [[ $attached == 0 ]] ||
      die "Docker network $NETWORK has subnet $current, not $SUBNET, and $attached container(s) attached; run localstack/stop.sh first"
    docker network rm "$NETWORK" >/dev/null
    log "removed Docker network $NETWORK (subnet $current)"
  fi
fi
if ! docker network inspect "$NETWORK" >/dev/null 2>&1; then
  docker network create --label mlflow-dev.emulator=true \
    --subnet "$SUBNET" --gateway "$GATEWAY_IP" "$NETWORK" >/dev/null ||
    die "could not create Docker network $NETWORK with subnet $SUBNET (another network may use it; set MLFLOW_DEV_AWS_SUBNET)"
  log "created Docker network $NETWORK ($SUBNET)"
fi

# A stopped or unhealthy container from an earlier run is replaced.
if docker inspect "$NAME" >/dev/null 2>&1; then
  docker rm -f "$NAME" >/dev/null
  log "removed the stale container $NAME"
fi

if [[ $MODE == ministack ]]; then
  docker image inspect "$MINISTACK_IMAGE" >/dev/null 2>&1 ||
    die "image $MINISTACK_IMAGE not found; build it with .ci/provision (or docker build images/ministack)"
  docker image inspect "$RDS_POSTGRES" >/dev/null 2>&1 ||
    die "image $RDS_POSTGRES not found (RDS instances run on it); build it with .ci/provision"
  pg_major=$(docker image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$RDS_POSTGRES" |
    sed -n 's/^PG_MAJOR=//p')
  pg_major=${pg_major:-${RDS_POSTGRES##*:}}
  [[ $pg_major =~ ^[0-9]+$ ]] || die "cannot tell the PostgreSQL major version of $RDS_POSTGRES (no PG_MAJOR in its env)"
  docker tag "$RDS_POSTGRES" "$RDS_IMAGE_PREFIX/postgres:$pg_major-alpine"

  docker run -d --name "$NAME" --hostname "$NAME" \
    --label mlflow-dev.emulator=ministack \
    --network "$NETWORK" --ip "$EMULATOR_IP" \
    -p "127.0.0.1:$PORT:4566" \
    -v "$SOCKET:/var/run/docker.sock" \
    -e GATEWAY_PORT=4566 \
    -e MINISTACK_REGION="$REGION" \
    -e DOCKER_NETWORK="$NETWORK" \
    -e MINISTACK_IMAGE_PREFIX="$RDS_IMAGE_PREFIX" \
    -e LOG_LEVEL="${MINISTACK_LOG_LEVEL:-INFO}" \
    "$MINISTACK_IMAGE" >/dev/null
else
  [[ -n ${LOCALSTACK_AUTH_TOKEN:-} ]] ||
    die "LOCALSTACK_AUTH_TOKEN is not set; LocalStack needs an auth token (ECS, ELBv2 and RDS are paid-plan services there). Without one use MiniStack: localstack/start.sh"
  docker run -d --name "$NAME" --hostname "$NAME" \
    --label mlflow-dev.emulator=localstack \
    --network "$NETWORK" --ip "$EMULATOR_IP" \
    -p "127.0.0.1:$PORT:4566" \
    -v "$SOCKET:/var/run/docker.sock" \
    -e LOCALSTACK_AUTH_TOKEN \
    -e AWS_DEFAULT_REGION="$REGION" \
    -e ECS_DOCKER_FLAGS="--network $NETWORK" \
    -e LAMBDA_DOCKER_NETWORK="$NETWORK" \
    "$LOCALSTACK_IMAGE" >/dev/null
fi

deadline=$(($(date +%s) + WAIT))
until healthy; do
  if ! running "$NAME"; then
    docker logs --tail 40 "$NAME" >&2 || true
    die "container $NAME exited during start (last log lines above)"
  fi
  if (($(date +%s) >= deadline)); then
    docker logs --tail 40 "$NAME" >&2 || true
    die "$MODE did not answer $HEALTH_URL within ${WAIT}s (last log lines above)"
  fi
  sleep 0.5
done

ms=$(($(now_ms) - t0))
log "$MODE started at http://127.0.0.1:$PORT (container $NAME, $EMULATOR_IP on network $NETWORK) in $((ms / 1000)).$((ms % 1000 / 100))s"
