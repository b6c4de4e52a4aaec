#!/usr/bin/env bash
# Validates docker-compose.yml with docker-compose (no engine needed) and checks that the image
# installs the packages the scripts install, so the container and a bare machine build alike.
set -euo pipefail
root=$1
out=$(docker-compose -f "$root/docker-compose.yml" config)
for svc in redis upstream parleyd; do
    grep -qE "^  $svc:" <<<"$out" || { echo "service $svc missing from compose config"; exit 1; }
done
grep -q -- "--appendonly" <<<"$out" || { echo "redis runs without AOF persistence"; exit 1; }
grep -q "PARLEY_REDIS_URL: redis://redis:6379/0" <<<"$out" || { echo "parleyd not pointed at redis"; exit 1; }
source "$root/scripts/lib.sh"
for p in $PARLEY_BUILD_PACKAGES; do
    grep -qw -- "$p" "$root/Dockerfile" || { echo "Dockerfile does not install $p"; exit 1; }
done
echo "docker-compose.yml and Dockerfile OK"
