#!/bin/sh
# The Lex and Connect responses Parley writes, type-checked by TypeScript against AWS's own
# Lambda types (@types/aws-lambda: LexV2Result, ConnectContactFlowResult):
#   lambda_types_oracle.sh LAMBDA_RESPONSES TESTS_DATA_DIR WORKDIR
# A response that is not a valid LexV2Result fails the check; a deliberately wrong one is
# checked too, so the check is seen to fail. Exits 77 (ctest: skipped) without node or tsc.
set -eu
here=${0%/*}
bin=$1 data=$2 work=$3
if ! command -v node >/dev/null 2>&1; then
    echo "node not found: skipped"
    exit 77
fi
tsc=$here/node_modules/.bin/tsc
if [ ! -x "$tsc" ] || [ ! -d "$here/node_modules/@types/aws-lambda" ]; then
    echo "typescript or @types/aws-lambda not installed (npm ci --prefix tests/oracles): skipped"
    exit 77
fi
rm -rf "$work" && mkdir -p "$work"
"$bin" "$data" >"$work/responses.raw"
lex=$(grep -c '^lex ' "$work/responses.raw")
connect=$(grep -c '^connect ' "$work/responses.raw")
[ "$lex" -ge 27 ] && [ "$connect" -ge 5 ] || { echo "too few responses"; exit 1; }
# @types/aws-lambda knows only the List and Scalar slot shapes; Lex V2 also has Composite
# (PROTOCOLS.md 4.1), which a response echoes as the event gave it. Those slots are left out
# of what is checked, and counted, so that the rest of each response is still checked.
node -e '
const fs = require("fs");
const lines = fs.readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean);
let out = "import type { LexV2Result, ConnectContactFlowResult } from \"aws-lambda\";\n", composite = 0;
lines.forEach((line, i) => {
    const sp = line.indexOf(" "), kind = line.slice(0, sp), value = JSON.parse(line.slice(sp + 1));
    const slots = kind === "lex" ? value.sessionState.intent.slots || {} : {};
    for (const k of Object.keys(slots))
        if (slots[k] && slots[k].shape === "Composite") { delete slots[k]; composite++; }
    const type = kind === "lex" ? "LexV2Result" : "ConnectContactFlowResult";
    out += "export const r" + i + ": " + type + " = " + JSON.stringify(value) + ";\n";
});
fs.writeFileSync(process.argv[2], out);
fs.writeFileSync(process.argv[3], String(composite));
' "$work/responses.raw" "$work/responses.ts" "$work/composite"
composite=$(cat "$work/composite")
cp "$here/node_modules/@types/aws-lambda/package.json" "$work/types-version.json"
opts="--noEmit --strict --skipLibCheck --types aws-lambda --typeRoots $here/node_modules/@types"
# shellcheck disable=SC2086
if ! "$tsc" $opts "$work/responses.ts" >"$work/tsc.out" 2>&1; then
    cat "$work/tsc.out"
    echo "the responses are not what @types/aws-lambda says Lex and Connect take"
    exit 1
fi
# The check can fail: a dialogAction type Lex does not have, and a nested Connect value.
cat >"$work/wrong.ts" <<'TS'
import type { LexV2Result, ConnectContactFlowResult } from "aws-lambda";
export const a: LexV2Result = {"sessionState":{"dialogAction":{"type":"Closed"},"intent":{"name":"X","state":"Fulfilled"}}};
export const b: ConnectContactFlowResult = {"answer":{"nested":"x"}};
TS
# shellcheck disable=SC2086
if "$tsc" $opts "$work/wrong.ts" >"$work/wrong.out" 2>&1; then
    echo "a wrong response passed the type check"
    exit 1
fi
errors=$(grep -c 'error TS' "$work/wrong.out" || true)
[ "$errors" -ge 2 ] || { cat "$work/wrong.out"; echo "the wrong responses were not both refused"; exit 1; }
echo "ok: $lex Lex and $connect Connect responses type-check ($composite Composite slots left out: the types do not know them); 2 wrong ones refused"
