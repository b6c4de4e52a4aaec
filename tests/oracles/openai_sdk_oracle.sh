#!/bin/sh
# The upstream double's OpenAI mode against the official client (openai-node):
#   openai_sdk_oracle.sh FAKE_UPSTREAM WORKDIR
# Exits 77 (ctest: skipped) without node or the package.
set -eu
here=${0%/*}
bin=$1 work=$2
if ! command -v node >/dev/null 2>&1; then
    echo "node not found: skipped"
    exit 77
fi
if [ ! -d "$here/node_modules/openai" ]; then
    echo "openai not installed (npm ci --prefix tests/oracles): skipped"
    exit 77
fi
key=sk-oracle-test-key
rm -rf "$work" && mkdir -p "$work"
"$bin" --port 0 --pace-ms 0 --ready-file "$work/port" --openai-key "$key" --log "$work/log" \
    >"$work/out" 2>"$work/err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
node "$here/openai_sdk_oracle.cjs" "$(cat "$work/port")" "$key"
