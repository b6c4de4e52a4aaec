#!/usr/bin/env bash
# Validates docker-compose.yml with docker-compose (no engine needed) and checks that the image
# installs the packages the scripts install, so the container and a bare machine build alike.
# The compose file must not start without a token secret from the environment, nor let anonymous
# callers in unless told to.
set -euo pipefail
root=$1
unset PARLEY_JWT_SECRET PARLEY_ALLOW_ANONYMOUS
if refused=$(docker-compose -f "$root/docker-compose.yml" config 2>&1); then
    echo "docker-compose.yml has a default token secret; it must require PARLEY_JWT_SECRET"; exit 1
fi
grep -q "set PARLEY_JWT_SECRET to a random secret" <<<"$refused" ||
    { echo "no secret: docker-compose said something else: $refused"; exit 1; }
secret=0123456789abcdef0123456789abcdef0123456789abcdef
out=$(PARLEY_JWT_SECRET=$secret docker-compose -f "$root/docker-compose.yml" config)
grep -q "PARLEY_JWT_SECRET: $secret" <<<"$out" || { echo "parleyd does not get PARLEY_JWT_SECRET"; exit 1; }
grep -q 'PARLEY_ALLOW_ANONYMOUS: "false"' <<<"$out" || { echo "anonymous callers are on by default"; exit 1; }
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
