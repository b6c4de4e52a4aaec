#!/bin/sh
# The AWS credentials double (container endpoint, instance metadata) against the AWS SDK's own
# providers: credentials_oracle.sh FAKE_AWS_METADATA_SERVER WORKDIR
# Exits 77 (ctest: skipped) without node or the packages.
set -eu
here=${0%/*}
bin=$1 work=$2
if ! command -v node >/dev/null 2>&1; then
    echo "node not found: skipped"
    exit 77
fi
for pkg in @aws-sdk/credential-provider-http @smithy/credential-provider-imds; do
    if [ ! -d "$here/node_modules/$pkg" ]; then
        echo "$pkg not installed (npm ci --prefix tests/oracles): skipped"
        exit 77
    fi
done
auth=container-auth-token-1
id=ASIAORACLEEXAMPLE secret=oracle/Secret+Key/EXAMPLE token=oracle-session-token
rm -rf "$work" && mkdir -p "$work"
printf '%s' "$auth" >"$work/auth"
"$bin" --port 0 --keys "$id" "$secret" "$token" --container-auth "$auth" 2>"$work/err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
port=
for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$work/err")
    [ -n "$port" ] && break
    sleep 0.05
done
[ -n "$port" ] || { echo "the double did not start"; cat "$work/err"; exit 1; }
NODE_NO_WARNINGS=1 node "$here/credentials_oracle.cjs" "$port" "$auth" "$work/auth" "$id" "$secret" "$token"
# Both providers' requests were ones the double accepts: one IMDSv2 token PUT, and no refusal but
# the wrong container token's.
kill $pid && wait $pid || true
trap - EXIT
grep -q '(1 token PUTs, 3 container GETs, 1 rejected)' "$work/err" ||
    { echo "FAIL: the double saw: $(tail -1 "$work/err")"; exit 1; }
echo "the double saw: $(tail -1 "$work/err")"
