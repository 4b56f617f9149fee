#!/usr/bin/env bash
# Smoke test of the image and deploy/compose.yaml: build the image, start Redis and newsbot
# with Compose, wait for /healthz, run `newsbot check` and `newsbot feeds add` inside, stop.
# Not part of CI (it needs a Docker daemon). Settings, all optional:
#   BASE=image        the Dockerfile's base (default python:3.12-slim; one made with
#                     debootstrap + docker import where Docker Hub is out of reach)
#   REDIS_IMAGE=image Redis for the compose file (default redis:7; the newsbot image has
#                     Debian's redis-server too, so REDIS_IMAGE=newsbot:smoke works offline)
#   COMPOSE="docker compose"   or docker-compose (the default when it is installed)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${COMPOSE:-}" ]; then
  if command -v docker-compose >/dev/null; then COMPOSE=docker-compose; else COMPOSE="docker compose"; fi
fi
IMAGE=newsbot:smoke
PROJECT=newsbot-smoke
PORT=${NEWSBOT_PORT:-3999}
export NEWSBOT_IMAGE=$IMAGE NEWSBOT_PORT=$PORT REDIS_IMAGE=${REDIS_IMAGE:-redis:7}
compose() { $COMPOSE -p "$PROJECT" -f deploy/compose.yaml "$@"; }

made_env=""
if [ ! -f deploy/newsbot.env ]; then
  cp deploy/newsbot.env.example deploy/newsbot.env
  echo "NEWSBOT_ALLOW_PRIVATE_NETWORKS=true" >> deploy/newsbot.env
  made_env=deploy/newsbot.env
fi
cleanup() {
  compose down -v --remove-orphans >/dev/null 2>&1 || true
  [ -n "$made_env" ] && rm -f "$made_env"
}
trap cleanup EXIT

echo "== build ($IMAGE from ${BASE:-python:3.12-slim})"
start=$(date +%s)
docker build -q ${BASE:+--build-arg BASE="$BASE"} -t "$IMAGE" .
echo "built in $(( $(date +%s) - start )) s; size $(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"

echo "== up ($COMPOSE, Redis image $REDIS_IMAGE)"
compose up -d
echo "== waiting for http://127.0.0.1:$PORT/healthz"
for _ in $(seq 120); do
  if curl -fsS "http://127.0.0.1:$PORT/healthz" >/tmp/newsbot-smoke-health 2>/dev/null; then break; fi
  sleep 1
done
curl -fsS "http://127.0.0.1:$PORT/healthz" >/tmp/newsbot-smoke-health
echo "healthz: $(cat /tmp/newsbot-smoke-health)"

echo "== newsbot check"
compose exec -T newsbot newsbot check

echo "== newsbot feeds add (a feed served inside the container)"
compose exec -T newsbot sh -c 'mkdir -p /tmp/feed && cat > /tmp/feed/feed.xml' <<'XML'
<?xml version="1.0"?><rss version="2.0"><channel><title>Smoke</title>
<item><title>Smoke test story</title><link>https://smoke.example/1</link><guid>1</guid>
<description>It works.</description></item></channel></rss>
XML
compose exec -T -d newsbot python3 -m http.server 8081 --bind 127.0.0.1 --directory /tmp/feed
sleep 1
compose exec -T newsbot newsbot feeds add http://127.0.0.1:8081/feed.xml
compose exec -T newsbot newsbot feeds list

echo "== down"
compose down -v
echo "smoke: ok"
