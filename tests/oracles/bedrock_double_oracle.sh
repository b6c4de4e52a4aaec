#!/bin/sh
# The upstream double's Bedrock mode against @smithy/eventstream-codec and @smithy/signature-v4
# (bedrock_double_oracle.cjs):   bedrock_double_oracle.sh FAKE_UPSTREAM WORKDIR
# Exits 77 (ctest: skipped) without node or the package.
set -eu
here=${0%/*}
bin=$1 work=$2
if ! command -v node >/dev/null 2>&1; then
    echo "node not found: skipped"
    exit 77
fi
if [ ! -d "$here/node_modules/@smithy/eventstream-codec" ]; then
    echo "@smithy/eventstream-codec not installed (npm ci --prefix tests/oracles): skipped"
    exit 77
fi
rm -rf "$work" && mkdir -p "$work"
token=FwoGZXIvYXdzEFAKESESSIONTOKEN
"$bin" --port 0 --pace-ms 0 --ready-file "$work/port" --aws-session-token "$token" >"$work/out" 2>"$work/err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
url="http://127.0.0.1:$(cat "$work/port")/model/anthropic.claude-3-haiku-20240307-v1%3A0"
post() { # BODY PATH OUT
    curl -sf -H 'authorization: Bearer ABSKfake-bedrock-api-key' -H 'content-type: application/json' \
        --data-binary "$1" -o "$3" "$url/$2"
}
post '{"messages":[{"role":"user","content":[{"text":"hi [[tokens:3]]"}]}]}' converse-stream "$work/converse"
post '{"anthropic_version":"bedrock-2023-05-31","max_tokens":16,"messages":[{"role":"user","content":"hi [[tokens:3]]"}]}' \
    invoke-with-response-stream "$work/invoke"
post '{"messages":[{"role":"user","content":[{"text":"hi [[tokens:5]] [[bad-crc]]"}]}]}' converse-stream "$work/bad-crc"
node "$here/bedrock_double_oracle.cjs" "$(cat "$work/port")" "$token" "$work/converse" "$work/invoke" "$work/bad-crc"
