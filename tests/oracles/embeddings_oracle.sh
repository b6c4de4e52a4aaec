#!/bin/sh
# The upstream double's embeddings mode against openai-node and parley's decoder:
#   embeddings_oracle.sh FAKE_UPSTREAM EMBEDDINGS_DECODE WORKDIR
# Exits 77 (ctest: skipped) without node or the package.
set -eu
here=${0%/*}
bin=$1 decoder=$2 work=$3
if ! command -v node >/dev/null 2>&1; then
    echo "node not found: skipped"
    exit 77
fi
if [ ! -d "$here/node_modules/openai" ]; then
    echo "openai not installed (npm ci --prefix tests/oracles): skipped"
    exit 77
fi
rm -rf "$work" && mkdir -p "$work"
"$bin" --port 0 --pace-ms 0 --ready-file "$work/port" --log "$work/log" \
    >"$work/out" 2>"$work/err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
node "$here/embeddings_oracle.cjs" "$(cat "$work/port")" "$decoder" "$work"
