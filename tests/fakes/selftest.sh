#!/usr/bin/env bash
# Self-test of the upstream double: exact bytes of a stream, each fault's status and shape, the
# request checks, keep-alive. Usage: selftest.sh PATH/TO/fake_upstream
set -uo pipefail
bin=$1
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
"$bin" --port 0 --pace-ms 0 --ready-file "$work/port" --log "$work/requests.jsonl" \
    >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
port=$(cat "$work/port")
url="http://127.0.0.1:$port/v1/messages"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

req() { # req BODY [extra curl args...] -> response (headers and body) on stdout
    local body=$1
    shift
    curl -s -N -i -H 'x-api-key: test-key' -H 'anthropic-version: 2023-06-01' \
        -H 'content-type: application/json' "$@" --data-binary "$body" "$url"
}
msg() { printf '{"model":"claude-test","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"%s"}]}' "$1"; }

# 1. A normal stream, byte for byte (the first request of a fresh double).
expected=$(printf '%s' \
'event: message_start
data: {"type":"message_start","message":{"id":"msg_fake_1","type":"message","role":"assistant","content":[],"model":"claude-test","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"w1 "}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"w2 "}}

event: ping
data: {"type":"ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"w3"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":3}}

event: message_stop
data: {"type":"message_stop"}
')
got=$(curl -s -N -H 'x-api-key: test-key' -H 'anthropic-version: 2023-06-01' \
    -H 'content-type: application/json' --data-binary "$(msg 'hi [[tokens:3]]')" "$url")
[ "$got" == "$expected" ] || fail "normal stream bytes differ:
$(diff <(echo "$expected") <(echo "$got"))"

resp=$(req "$(msg 'hi [[tokens:3]]')")
grep -q $'^HTTP/1.1 200 OK\r$' <<<"$resp" || fail "normal: no 200"
grep -q $'^content-type: text/event-stream; charset=utf-8\r$' <<<"$resp" || fail "normal: content-type"
grep -q $'^transfer-encoding: chunked\r$' <<<"$resp" || fail "normal: not chunked"

# [[stamp]]: every token carries its send time, 16 digits, in order and not in the future.
r=$(req "$(msg 'hi [[tokens:3]] [[stamp]] [[pace:30]]')")
stamps=$(grep -o '"text":"w[0-9]*@[0-9]\{16\} \?"' <<<"$r" | grep -o '[0-9]\{16\}')
[ "$(wc -l <<<"$stamps")" == 3 ] || fail "stamp: expected 3 stamped tokens, got: $(grep text_delta <<<"$r")"
[ "$(sort -n <<<"$stamps")" == "$stamps" ] || fail "stamp: times out of order: $stamps"
gap=$(( 10#$(sed -n 3p <<<"$stamps") - 10#$(sed -n 1p <<<"$stamps") ))
[ "$gap" -ge 60000 ] || fail "stamp: 3 tokens at 30 ms stamped only ${gap} us apart"

# 2. Error statuses and bodies.
check_status() { # MARKER STATUS TYPE [HEADER]
    local r
    r=$(req "$(msg "q [[$1]]")")
    grep -q "^HTTP/1.1 $2 " <<<"$r" || fail "$1: status is not $2"
    grep -q "\"type\":\"error\",\"error\":{\"type\":\"$3\"" <<<"$r" || fail "$1: body lacks $3"
    if [ -n "${4:-}" ]; then grep -qi "^$4" <<<"$r" || fail "$1: header $4 missing"; fi
}
check_status 429 429 rate_limit_error 'retry-after: 1'
check_status 529 529 overloaded_error
check_status 500 500 api_error
check_status 400 400 invalid_request_error
r=$(req "$(msg 'q [[429-noretry]]')")
grep -qi '^retry-after' <<<"$r" && fail "429-noretry sent retry-after"

# 3. Faults inside a 200 stream.
r=$(req "$(msg 'q [[error-mid]] [[tokens:10]]')")
[ "$(grep -c 'text_delta' <<<"$r")" -eq 3 ] || fail "error-mid: not 3 deltas"
grep -q '^event: error' <<<"$r" || fail "error-mid: no error event"
grep -q 'message_stop' <<<"$r" && fail "error-mid: message_stop after the error"
curl -s -N -o "$work/cut" -H 'x-api-key: test-key' -H 'anthropic-version: 2023-06-01' \
    -H 'content-type: application/json' --data-binary "$(msg 'q [[cut]] [[tokens:10]]')" "$url"
rc=$?
[ $rc -eq 18 ] || fail "cut: curl exit $rc, expected 18 (transfer closed with data remaining)"
[ "$(grep -c 'text_delta' "$work/cut")" -eq 3 ] || fail "cut: not 3 deltas"
r=$(req "$(msg 'q [[malformed]] [[tokens:4]]')")
grep -q $'^data: {"type":"content_block_delta",$' <<<"$r" || fail "malformed: no broken JSON line"
r=$(req "$(msg 'q [[max-tokens]] [[tokens:2]]')")
grep -q '"stop_reason":"max_tokens"' <<<"$r" || fail "max-tokens: stop reason"
r=$(req "$(msg 'q [[text:Hello there, friend.]]')")
[ "$(grep -o '"text":"[^"]*"' <<<"$r" | grep -v '"text":""' | tr -d '\n')" == \
  '"text":"Hello ""text":"there, ""text":"friend."' ] || fail "text marker tokens"
timeout 2 curl -s -N -o "$work/stall" -H 'x-api-key: test-key' -H 'anthropic-version: 2023-06-01' \
    -H 'content-type: application/json' --max-time 1 --data-binary "$(msg 'q [[stall]]')" "$url"
grep -q message_start "$work/stall" || fail "stall: no message_start"
grep -q text_delta "$work/stall" && fail "stall: sent a delta"
start=$(date +%s%N)
req "$(msg 'q [[slow-first:400]] [[tokens:1]]')" >/dev/null
[ $(( ($(date +%s%N) - start) / 1000000 )) -ge 400 ] || fail "slow-first: answered too soon"
for i in 1 2; do check_status 'flaky:2' 529 overloaded_error; done
r=$(req "$(msg 'q [[flaky:2]] [[tokens:1]]')")
grep -q '^HTTP/1.1 200' <<<"$r" || fail "flaky: third request not 200"

# 4. Request checks fail loudly.
r=$(curl -s -i -H 'anthropic-version: 2023-06-01' -H 'content-type: application/json' \
    --data-binary "$(msg hi)" "$url")
grep -q '^HTTP/1.1 401' <<<"$r" || fail "missing key accepted"
r=$(curl -s -i -H 'authorization: Bearer test-key' -H 'anthropic-version: 2023-06-01' \
    -H 'content-type: application/json' --data-binary "$(msg 'hi [[tokens:1]]')" "$url")
grep -q '^HTTP/1.1 200' <<<"$r" || fail "Bearer auth refused"
r=$(curl -s -i -H 'x-api-key: test-key' -H 'content-type: application/json' \
    --data-binary "$(msg hi)" "$url")
grep -q 'anthropic-version header is missing' <<<"$r" || fail "missing anthropic-version accepted"
r=$(req '{"model":"m","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}')
grep -q 'roles must alternate' <<<"$r" || fail "non-alternating roles accepted"
r=$(req '{"model":"m","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}')
grep -q 'last message must be from the user' <<<"$r" || fail "assistant-last accepted"
r=$(req '{"max_tokens":5,"stream":true,"messages":[{"role":"user","content":"a"}]}')
grep -q 'model: field required' <<<"$r" || fail "missing model accepted"
r=$(req '{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"a"}]}')
grep -q 'stream: true' <<<"$r" || fail "non-streaming accepted"
r=$(curl -s -i -H 'x-api-key: test-key' -H 'anthropic-version: 2026-10-21' \
    -H 'content-type: application/json' \
    --data-binary '{"model":"m","max_tokens":5,"stream":true,"temperature":1,"messages":[{"role":"user","content":"a"}]}' "$url")
grep -q 'not accepted under 2026-10-21' <<<"$r" || fail "temperature accepted under 2026-10-21"
grep -q 'REQUEST CHECK FAILED: roles must alternate\|REQUEST CHECK FAILED: messages.1.role' "$work/err" ||
    fail "request check failures not reported on stderr"

# 5. Keep-alive: two requests on one connection.
r=$(curl -s -N -v -H 'x-api-key: test-key' -H 'anthropic-version: 2023-06-01' \
    -H 'content-type: application/json' --data-binary "$(msg 'a [[tokens:1]]')" "$url" \
    --next -H 'x-api-key: test-key' -H 'anthropic-version: 2023-06-01' \
    -H 'content-type: application/json' --data-binary "$(msg 'b [[tokens:1]]')" "$url" 2>&1)
grep -q 'Re-using existing connection' <<<"$r" || fail "connection not kept alive"
[ "$(grep -c '^event: message_stop' <<<"$r")" -eq 2 ] || fail "keep-alive: two streams expected"

# 6. The request log and /stats.
[ "$(grep -c '"behaviour":"cut"' "$work/requests.jsonl")" -eq 1 ] || fail "log lacks the cut request"
curl -s "http://127.0.0.1:$port/stats" | grep '"requests":' >/dev/null || fail "/stats"

# 7. Bedrock mode: SigV4 as curl signs it (an independent signer), exact frames, faults.
sig=(--aws-sigv4 'aws:amz:us-east-1:bedrock' --user 'AKIDEXAMPLE:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'
     -H 'content-type: application/json')
burl="http://127.0.0.1:$port/model/claude-test"
cmsg() { printf '{"messages":[{"role":"user","content":[{"text":"%s"}]}]}' "$1"; }
hex=$(curl -s "${sig[@]}" --data-binary "$(cmsg 'hi [[tokens:2]]')" "$burl/converse-stream" | xxd -p | tr -d '\n')
# messageStart, then the first contentBlockDelta ("w1 ", padding "abcdefgh"), byte for byte.
[ "${hex:0:252}" == "0000007e00000052a6a5b11f0b3a6576656e742d7479706507000c6d65737361676553746172740d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b2270223a2261222c22726f6c65223a22617373697374616e74227df99266d1" ] ||
    fail "bedrock: messageStart frame bytes: ${hex:0:252}"
[ "${hex:252:328}" == "000000a400000057158a22680b3a6576656e742d74797065070011636f6e74656e74426c6f636b44656c74610d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b22636f6e74656e74426c6f636b496e646578223a302c2264656c7461223a7b2274657874223a22773120227d2c2270223a226162636465666768227d531177ff" ] ||
    fail "bedrock: contentBlockDelta frame bytes: ${hex:252:328}"
r=$(curl -s -i --aws-sigv4 'aws:amz:us-east-1:bedrock' --user 'AKIDEXAMPLE:wrong-secret' \
    -H 'content-type: application/json' --data-binary "$(cmsg 'hi')" "$burl/converse-stream")
grep -q '^HTTP/1.1 403' <<<"$r" && grep -q '^x-amzn-ErrorType: InvalidSignatureException:' <<<"$r" ||
    fail "bedrock: a wrong secret was not refused with 403 InvalidSignatureException"
r=$(curl -s -o /dev/null -w '%{http_code}' -H 'authorization: Bearer ABSKfake-bedrock-api-key' \
    -H 'content-type: application/json' --data-binary "$(cmsg 'hi [[tokens:1]]')" "$burl/converse-stream")
[ "$r" == 200 ] || fail "bedrock: API key refused ($r)"
r=$(curl -s -i "${sig[@]}" --data-binary "$(cmsg 'q [[throttle]]')" "$burl/converse-stream")
grep -q '^HTTP/1.1 429' <<<"$r" && grep -q '^x-amzn-ErrorType: ThrottlingException:' <<<"$r" &&
    grep -q '{"message":"Too many requests, please wait before trying again."}' <<<"$r" ||
    fail "bedrock: throttle"
r=$(curl -s "${sig[@]}" --data-binary "$(cmsg 'q [[exception-first]]')" "$burl/converse-stream" | xxd -p | tr -d '\n')
grep -q "$(printf ':exception-type' | xxd -p)" <<<"$r" && grep -q "$(printf 'throttlingException' | xxd -p)" <<<"$r" ||
    fail "bedrock: exception-first"
r=$(curl -s -i "${sig[@]}" --data-binary '{"max_tokens":5,"messages":[{"role":"user","content":"a"}]}' \
    "$burl/invoke-with-response-stream")
grep -q '^HTTP/1.1 400' <<<"$r" && grep -q 'anthropic_version must be' <<<"$r" || fail "bedrock: invoke body unchecked"
r=$(curl -s -i --aws-sigv4 'aws:amz:eu-west-1:bedrock' --user 'AKIDEXAMPLE:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' \
    -H 'content-type: application/json' --data-binary "$(cmsg 'hi')" "$burl/converse-stream")
grep -q '^HTTP/1.1 403' <<<"$r" && grep -q 'valid region' <<<"$r" || fail "bedrock: a wrong region accepted"
r=$(curl -s -i --aws-sigv4 'aws:amz:us-east-1:bedrock-runtime' --user 'AKIDEXAMPLE:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' \
    -H 'content-type: application/json' --data-binary "$(cmsg 'hi')" "$burl/converse-stream")
grep -q '^HTTP/1.1 403' <<<"$r" && grep -q "service: 'bedrock'" <<<"$r" || fail "bedrock: service bedrock-runtime accepted"
bearer=(-H 'authorization: Bearer ABSKfake-bedrock-api-key' -H 'content-type: application/json')
r=$(curl -s -i "${bearer[@]}" --data-binary '{"model":"m","messages":[{"role":"user","content":[{"text":"a"}]}]}' "$burl/converse-stream")
grep -q '^HTTP/1.1 400' <<<"$r" && grep -q 'extraneous key \[model\]' <<<"$r" || fail "bedrock: converse body with model accepted"
r=$(curl -s -i "${bearer[@]}" --data-binary '{"messages":[{"role":"user","content":"a"}]}' "$burl/converse-stream")
grep -q '^HTTP/1.1 400' <<<"$r" || fail "bedrock: converse content as a string accepted"
r=$(curl -s -i "${bearer[@]}" --data-binary '{"messages":[{"role":"user","content":[{"text":"a"}]}],"guardrailConfig":{"guardrailIdentifier":"other","guardrailVersion":"1"}}' "$burl/converse-stream")
grep -q '^HTTP/1.1 400' <<<"$r" && grep -q 'does not exist' <<<"$r" || fail "bedrock: unknown guardrail accepted"
grep -q 'REQUEST CHECK FAILED: bedrock invoke: anthropic_version' "$work/err" || fail "bedrock: check not on stderr"
# The model id label as the AWS SDKs send it (%3A) and as the Anthropic SDKs do (raw ':'), as
# Bedrock accepts both; a lower-case escape or a needless one is neither. (With the API key: curl
# signs such paths as S3 does, without encoding them twice.)
mpath="http://127.0.0.1:$port/model"
for label in a.b-v1%3A0 a.b-v1:0 arn:aws:bedrock:us-east-1:1:inference-profile%2Fus.a-v1:0; do
    r=$(curl -s -o /dev/null -w '%{http_code}' "${bearer[@]}" --data-binary "$(cmsg 'hi [[tokens:1]]')" \
        "$mpath/$label/converse-stream")
    [ "$r" == 200 ] || fail "bedrock: model label $label refused ($r)"
done
for label in a.b-v1%3a0 a%2eb-v1:0 a/b-v1:0; do
    r=$(curl -s -i "${bearer[@]}" --data-binary "$(cmsg 'hi')" "$mpath/$label/converse-stream")
    grep -q '^HTTP/1.1 400' <<<"$r" && grep -q 'not URI-encoded' <<<"$r" ||
        fail "bedrock: model label $label accepted"
done
grep -q '"t_ms":[0-9.]*,"method":"POST","path":"/model/claude-test/converse-stream"' "$work/requests.jsonl" ||
    fail "bedrock: request log lacks time or path"

# 8. SIGTERM: a clean exit.
kill -TERM $pid
wait $pid
rc=$?
[ $rc -eq 0 ] || fail "exit status $rc after SIGTERM"

if [ $failures -ne 0 ]; then
    echo "--- stderr of the double:"
    cat "$work/err"
    exit 1
fi
echo "fake_upstream self-test passed"
