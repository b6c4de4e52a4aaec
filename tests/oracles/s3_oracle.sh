#!/bin/sh
# S3 for `parley kb sync` against AWS's JavaScript code (s3_oracle.cjs):
#   s3_oracle.sh FAKE_S3 SIGV4_COMPARE WORKDIR
# First the C signer against @smithy/signature-v4 on S3 requests (ListObjectsV2 with a
# continuation token, GetObject of awkward keys; PARLEY_ORACLE_CASES, default 200, from
# PARLEY_ORACLE_SEED), then @aws-sdk/client-s3 against the S3 double. Exits 77 (ctest: skipped)
# without node or the packages.
set -eu
here=${0%/*}
fake=$1 compare=$2 work=$3
if ! command -v node >/dev/null 2>&1; then
    echo "node not found: skipped"
    exit 77
fi
if [ ! -d "$here/node_modules/@aws-sdk/client-s3" ] || [ ! -d "$here/node_modules/@smithy/signature-v4" ]; then
    echo "@aws-sdk/client-s3 not installed (npm ci --prefix tests/oracles): skipped"
    exit 77
fi
mkdir -p "$work"
seed=${PARLEY_ORACLE_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
cases=${PARLEY_ORACLE_CASES:-200}
echo "seed $seed, $cases S3 requests (replay: PARLEY_ORACLE_SEED=$seed)"
node "$here/s3_oracle.cjs" sign "$cases" "$seed" >"$work/sign.out"
"$compare" <"$work/sign.out"
node "$here/s3_oracle.cjs" sdk "$fake" "$work/sdk"
