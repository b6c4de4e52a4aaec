#!/bin/sh
# The upstream double's Bedrock mode against the real clients (@anthropic-ai/bedrock-sdk,
# @aws-sdk/client-bedrock-runtime), signing with the double's test credentials:
#   bedrock_sdk_oracle.sh FAKE_UPSTREAM WORKDIR
# Exits 77 (ctest: skipped) without node or the packages.
set -eu
here=${0%/*}
bin=$1 work=$2
if ! command -v node >/dev/null 2>&1; then
    echo "node not found: skipped"
    exit 77
fi
for pkg in @anthropic-ai/bedrock-sdk @aws-sdk/client-bedrock-runtime @smithy/node-http-handler; do
    if [ ! -d "$here/node_modules/$pkg" ]; then
        echo "$pkg not installed (npm ci --prefix tests/oracles): skipped"
        exit 77
    fi
done
token=FQoGZXIvYXdzEXAMPLESESSIONTOKEN
rm -rf "$work" && mkdir -p "$work"
"$bin" --port 0 --pace-ms 0 --ready-file "$work/port" --aws-session-token "$token" \
    --log "$work/log" >"$work/out" 2>"$work/err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
# NODE_NO_WARNINGS: the AWS SDK's notice about future node versions.
NODE_NO_WARNINGS=1 node "$here/bedrock_sdk_oracle.cjs" "$(cat "$work/port")" "$token"
