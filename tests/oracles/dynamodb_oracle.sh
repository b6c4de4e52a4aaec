#!/bin/sh
# The DynamoDB double as the AWS SDK's DynamoDBClient reads it (dynamodb_oracle.cjs), and the C
# item converter against @aws-sdk/util-dynamodb's unmarshall when that package is installed:
#   dynamodb_oracle.sh FAKE_DYNAMODB DYNAMODB_ITEM_CONVERT WORKDIR
# Exits 77 (ctest: skipped) without node or the package.
set -eu
here=${0%/*}
bin=$1 convert=$2 work=$3
if ! command -v node >/dev/null 2>&1; then
    echo "node not found: skipped"
    exit 77
fi
if [ ! -d "$here/node_modules/@aws-sdk/client-dynamodb" ]; then
    echo "@aws-sdk/client-dynamodb not installed (npm ci --prefix tests/oracles): skipped"
    exit 77
fi
rm -rf "$work" && mkdir -p "$work"
# A rich item: every AttributeValue type, nested, numbers whose text must survive.
cat >"$work/items.json" <<'JSON'
{"Policies":[{"policy_number":{"S":"POL-100001"},"holder":{"M":{"name":{"S":"Ada \"A\" Lovelace"},"born":{"N":"1815"},"address":{"M":{"lines":{"L":[{"S":"12 St James's Square"},{"S":"London"}]}}}}},"premium":{"N":"412.50"},"excess":{"N":"75"},"ratio":{"N":"0.125"},"active":{"BOOL":true},"lapsed":{"BOOL":false},"broker":{"NULL":true},"drivers":{"L":[{"S":"Ada"},{"N":"2"},{"L":[]},{"M":{}},{"BOOL":true}]},"tags":{"SS":["motor","windscreen"]},"limits":{"NS":["500","1000.5"]},"scan":{"B":"aGVsbG8="},"scans":{"BS":["AQI=","/w=="]},"note":{"S":"caf\u00e9 \u2713\nline"}}]}
JSON
"$bin" --port 0 --ready-file "$work/port" --items "$work/items.json" --log "$work/log.jsonl" \
    >"$work/out" 2>"$work/err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
node -e 'const f=require(process.argv[1]);process.stdout.write(JSON.stringify({Item:f.Policies[0]}))' \
    "$work/items.json" >"$work/reply.json"
"$convert" <"$work/reply.json" >"$work/converted.json"
node "$here/dynamodb_oracle.cjs" "$(cat "$work/port")" "$work/items.json" "$work/converted.json"
