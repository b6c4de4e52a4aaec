#!/usr/bin/env bash
# Self-test of the upstream double's OpenAI-compatible mode: exact bytes of a stream (PROTOCOLS
# 6C), [[no-usage]], a cut and a mid-stream error, each error status and shape, the bearer key
# and body checks. Usage: selftest_openai.sh PATH/TO/fake_upstream
set -uo pipefail
bin=$1
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
"$bin" --port 0 --pace-ms 0 --openai-key sk-self --ready-file "$work/port" \
    --log "$work/requests.jsonl" >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
url="http://127.0.0.1:$(cat "$work/port")/v1/chat/completions"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
msg() { printf '{"model":"llama3.1","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"%s"}],"stream":true,"stream_options":{"include_usage":true},"max_tokens":64}' "$1"; }
req() { # req BODY [curl args...]: headers and body
    local body=$1
    shift
    curl -s -N -i -H 'authorization: Bearer sk-self' -H 'content-type: application/json' "$@" \
        --data-binary "$body" "$url"
}
body_of() { curl -s -N -H 'authorization: Bearer sk-self' -H 'content-type: application/json' \
    --data-binary "$1" "$url"; }

chunk() { # chunk N CHOICES USAGE
    printf 'data: {"id":"chatcmpl-fake-%s","object":"chat.completion.chunk","created":1700000000,"model":"llama3.1","choices":%s,"usage":%s}\n\n' "$1" "$2" "$3"
}
expected=$(
    chunk 1 '[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]' null
    chunk 1 '[{"index":0,"delta":{"content":"w1 "},"finish_reason":null}]' null
    chunk 1 '[{"index":0,"delta":{"content":"w2"},"finish_reason":null}]' null
    chunk 1 '[{"index":0,"delta":{},"finish_reason":"stop"}]' null
    chunk 1 '[]' '{"prompt_tokens":6,"completion_tokens":2,"total_tokens":8}'
    printf 'data: [DONE]\n\n'
)
got=$(body_of "$(msg 'hi [[tokens:2]]')")
[ "$got" == "$expected" ] || fail "normal stream bytes differ:
$(diff <(echo "$expected") <(echo "$got"))"

got=$(body_of "$(msg 'hi [[tokens:2]] [[no-usage]]')")
grep -q '"usage":{' <<<"$got" && fail "no-usage: a usage chunk was sent"
grep -q '^data: \[DONE\]$' <<<"$got" || fail "no-usage: no [DONE]"

got=$(body_of "$(msg 'hi [[tokens:9]] [[cut]]')")
[ "$(grep -c '"content":"w' <<<"$got")" == 3 ] || fail "cut: not three deltas"
grep -q 'DONE\|finish_reason":"' <<<"$got" && fail "cut: finished"

got=$(body_of "$(msg 'hi [[tokens:9]] [[error-mid]]')")
grep -q '^data: {"error":{"message":"Overloaded","type":"server_error","param":null,"code":null}}$' \
    <<<"$got" || fail "error-mid: no error chunk"

got=$(body_of "$(msg 'hi [[max-tokens]] [[tokens:1]]')")
grep -q '"finish_reason":"length"' <<<"$got" || fail "max-tokens: no length"

resp=$(req "$(msg 'q [[429]]')")
grep -q $'^HTTP/1.1 429 ' <<<"$resp" || fail "429: status"
grep -qi $'^retry-after: 1\r$' <<<"$resp" || fail "429: no retry-after"
grep -q '"code":"rate_limit_exceeded"' <<<"$resp" || fail "429: body"

resp=$(req "$(msg 'q [[500]]')")
grep -q $'^HTTP/1.1 500 ' <<<"$resp" || fail "500: status"
resp=$(req "$(msg 'q [[503]]')")
grep -q '^{"object":"error","message":"The model is overloaded","type":"ServiceUnavailableError","param":null,"code":503}$' \
    <<<"$(tail -1 <<<"$resp")" || fail "503: not vLLM's flat shape"
resp=$(req "$(msg 'q [[400]]')")
grep -q $'^HTTP/1.1 400 ' <<<"$resp" || fail "400: status"

resp=$(req "$(msg 'q [[flaky:1]] [[tokens:1]]')")
grep -q $'^HTTP/1.1 429 ' <<<"$resp" || fail "flaky: first not 429"
resp=$(req "$(msg 'q [[flaky:1]] [[tokens:1]]')")
grep -q $'^HTTP/1.1 200 ' <<<"$resp" || fail "flaky: second not 200"

resp=$(curl -s -i -H 'authorization: Bearer wrong' -H 'content-type: application/json' \
    --data-binary "$(msg hi)" "$url")
grep -q $'^HTTP/1.1 401 ' <<<"$resp" || fail "wrong key accepted"
resp=$(req '{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true}')
grep -q $'^HTTP/1.1 400 ' <<<"$resp" || fail "missing stream_options accepted"
resp=$(req '{"model":"m","messages":[{"role":"assistant","content":"x"}],"stream":true,"stream_options":{"include_usage":true}}')
grep -q $'^HTTP/1.1 400 ' <<<"$resp" || fail "assistant first accepted"
grep -q 'REQUEST CHECK FAILED' "$work/err" || fail "no check failure on stderr"
grep -q '"path":"/v1/chat/completions"' "$work/requests.jsonl" || fail "not logged"

[ "$failures" == 0 ] && echo "fake_upstream OpenAI mode: all checks passed"
exit $((failures > 0))
