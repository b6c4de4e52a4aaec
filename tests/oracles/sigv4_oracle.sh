#!/bin/sh
# The C SigV4 signer against @smithy/signature-v4 on randomised Bedrock-like requests:
#   sigv4_oracle.sh SIGV4_COMPARE OUT_FILE
# PARLEY_ORACLE_CASES (default 500) requests from PARLEY_ORACLE_SEED (default: a new one, printed
# so that a failure can be replayed). Exits 77 (ctest: skipped) without node or the package.
set -eu
here=${0%/*}
compare=$1 out=$2
if ! command -v node >/dev/null 2>&1; then
    echo "node not found: skipped"
    exit 77
fi
if [ ! -d "$here/node_modules/@smithy/signature-v4" ]; then
    echo "@smithy/signature-v4 not installed (npm ci --prefix tests/oracles): skipped"
    exit 77
fi
seed=${PARLEY_ORACLE_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
cases=${PARLEY_ORACLE_CASES:-500}
echo "seed $seed, $cases requests (replay: PARLEY_ORACLE_SEED=$seed)"
node "$here/sigv4_oracle.cjs" "$cases" "$seed" >"$out"
"$compare" <"$out"
