#!/usr/bin/env bash
# Self-test of the upstream double's embeddings mode (README.md "Embeddings mode"): exact bytes
# of an OpenAI-compatible reply in floats and in base64, paraphrases of the synonym table on one
# vector, Titan's reply and checks, each fault marker and refusal, the bearer key and Bedrock's
# authentication. Usage: selftest_embeddings.sh PATH/TO/fake_upstream
set -uo pipefail
bin=$1
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
"$bin" --port 0 --openai-key sk-emb --ready-file "$work/port" --log "$work/requests.jsonl" \
    >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
base="http://127.0.0.1:$(cat "$work/port")"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
oai() { # oai BODY [curl args...]: the body, then the status on its own line
    local body=$1
    shift
    curl -s -w '\n%{http_code}' -H 'authorization: Bearer sk-emb' -H 'content-type: application/json' \
        "$@" --data-binary "$body" "$base/v1/embeddings"
}
titan() { # titan BODY [curl args...]
    local body=$1
    shift
    curl -s -w '\n%{http_code}' -H 'content-type: application/json' "$@" --data-binary "$body" \
        "$base/model/amazon.titan-embed-text-v2:0/invoke"
}
expect() { # expect NAME GOT WANT
    [ "$2" == "$3" ] || fail "$1:
  got:  $2
  want: $3"
}

# Floats: "glass chip", "windshield" and "the Windscreens!" are all the one word windscreen.
expect "floats" "$(oai '{"model":"m","input":["glass chip","windshield","the Windscreens!"],"dimensions":4}')" \
'{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.0,-1.0,0.0,0.0]},{"object":"embedding","index":1,"embedding":[0.0,-1.0,0.0,0.0]},{"object":"embedding","index":2,"embedding":[0.0,-1.0,0.0,0.0]}],"model":"m","usage":{"prompt_tokens":11,"total_tokens":11}}
200'
# Base64 of the little-endian float32s 0, -1, 0, 0.
expect "base64" "$(oai '{"model":"m","input":"windshield","dimensions":4,"encoding_format":"base64"}')" \
'{"object":"list","data":[{"object":"embedding","index":0,"embedding":"AAAAAAAAgL8AAAAAAAAAAA=="}],"model":"m","usage":{"prompt_tokens":3,"total_tokens":3}}
200'
# Without dimensions: 256 numbers.
n=$(oai '{"model":"m","input":"cat"}' | head -1 | grep -o ',' | wc -l)
[ "$n" -gt 255 ] || fail "default length: $n commas"
# Refusals and faults.
expect "empty input" "$(oai '{"model":"m","input":[]}')" \
'{"error":{"message":"input: a non-empty string or 1 to 2048 of them","type":"invalid_request_error","param":null,"code":null}}
400'
expect "format" "$(oai '{"model":"m","input":"x","encoding_format":"hex"}' | tail -1)" "400"
expect "no model" "$(oai '{"input":"x"}' | tail -1)" "400"
expect "500" "$(oai '{"model":"m","input":"x [[embed-500]]"}')" \
'{"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}
500'
h=$(oai '{"model":"m","input":["a","b [[embed-429]]"]}' -i)
grep -q '^retry-after: 1' <<<"$h" || fail "429 without retry-after"
expect "429" "$(tail -1 <<<"$h")" "429"
expect "400 marker" "$(oai '{"model":"m","input":"x [[embed-400]]"}' | tail -1)" "400"
expect "bad key" "$(curl -s -o /dev/null -w '%{http_code}' -H 'authorization: Bearer nope' \
    -H 'content-type: application/json' --data-binary '{"model":"m","input":"x"}' "$base/v1/embeddings")" "401"
start=$(date +%s%N)
expect "slow" "$(oai '{"model":"m","input":"x [[embed-slow:300]]","dimensions":2}' | tail -1)" "200"
took=$((($(date +%s%N) - start) / 1000000))
[ "$took" -ge 300 ] || fail "slow answered after $took ms"

# Titan: the Bedrock API key (SigV4 is checked by the integration and oracle suites).
key='authorization: Bearer ABSKfake-bedrock-api-key'
got=$(titan '{"inputText":"glass chip","dimensions":256,"normalize":true}' -H "$key")
expect "titan status" "$(tail -1 <<<"$got")" "200"
grep -q '^{"embedding":\[0.0,' <<<"$got" || fail "titan reply: ${got:0:80}"
grep -q '"inputTextTokenCount":3}$' <<<"$(head -1 <<<"$got")" || fail "titan token count"
expect "titan dims" "$(titan '{"inputText":"x","dimensions":300}' -H "$key")" \
'{"message":"dimensions: 256, 512 or 1024"}
400'
expect "titan empty" "$(titan '{"inputText":""}' -H "$key" | tail -1)" "400"
expect "titan no auth" "$(titan '{"inputText":"x"}' | tail -1)" "403"
h=$(titan '{"inputText":"x [[embed-429]]"}' -H "$key" -i)
grep -q '^x-amzn-ErrorType: ThrottlingException' <<<"$h" || fail "titan 429 type"
# Every request logged with its behaviour.
expect "log" "$(grep -c '"behaviour":"embeddings' "$work/requests.jsonl")" "$(wc -l <"$work/requests.jsonl" | tr -d ' ')"

[ "$failures" -eq 0 ] && echo "embeddings mode: all checks passed"
exit $((failures > 0))
