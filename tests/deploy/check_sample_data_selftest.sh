#!/usr/bin/env bash
# The sample data check can fail: each case breaks a scratch copy of data/ in one way and expects
# check_sample_data.mjs to exit 1 naming that problem, after the unbroken copy passes.
set -euo pipefail
root=$1 node=${2:-node}
check=$root/tests/deploy/check_sample_data.mjs
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

fresh() { rm -rf "$scratch/data" && cp -r "$root/data" "$scratch/data"; }
edit_json() { # file, JavaScript statement over `r`
    "$node" -e 'const fs=require("fs");const f=process.argv[1];const r=JSON.parse(fs.readFileSync(f,"utf8"));'"$2"';fs.writeFileSync(f,JSON.stringify(r))' "$1"
}
expect_failure() { # case name, text the report must contain (grep -E with -E first)
    local how=-F out
    if [ "$1" = -E ]; then how=-E; shift; fi
    if out=$("$node" "$check" "$scratch/data" 2>&1); then
        echo "FAIL ($1): the check passed broken data"; exit 1
    fi
    grep -q "$how" -- "$2" <<<"$out" || { echo "FAIL ($1): report lacks \"$2\":"; echo "$out"; exit 1; }
    echo "ok ($1)"
}

fresh
"$node" "$check" "$scratch/data" >/dev/null || { echo "FAIL: the unbroken copy does not pass"; exit 1; }

fresh; sed -i '1s/^# /Title: /' "$scratch/data/kb/motor-glass-cover.md"
expect_failure "no title line" 'motor-glass-cover.md: does not start with a "# Title" line'

fresh; sed -i 's/<h1>/<p>/; s#</h1>#</p>#' "$scratch/data/kb/contact-hours.html"
expect_failure "html without h1" 'contact-hours.html: no <h1> heading'

fresh; head -c 400 "$root/data/kb/home-subsidence.md" >"$scratch/data/kb/home-subsidence.md"
expect_failure -E "too short" 'home-subsidence.md: [0-9]+ words, outside 150\.\.900'

fresh; printf '# Orphan\n\n## Section\n\n%s\n' "$(head -c 2000 "$root/data/kb/home-buildings.md" | tail -c 1500)" >"$scratch/data/kb/orphan.md"
expect_failure "document no question expects" 'orphan.md: no question in eval.json expects it'

fresh; edit_json "$scratch/data/kb/eval.json" 'r.questions[0].expect=["motor-windscreen.md"]'
expect_failure "unknown expected file" 'expects "motor-windscreen.md", which is not a document'

fresh; edit_json "$scratch/data/kb/eval.json" 'r.questions=r.questions.filter(q=>!q.expect.includes("legal-expenses-cover.md"))'
expect_failure "document left uncovered" 'legal-expenses-cover.md: no question in eval.json expects it'

fresh; edit_json "$scratch/data/kb/eval.json" 'r.questions[3].q="is accidental damage to your own car covered even when the accident was your fault?"'
expect_failure "question copies a document" 'eval.json question 4: copies "accidental damage to your own car" from motor-cover-levels.md'

fresh; find "$scratch/data/kb" -name 'home-*' -delete
expect_failure "too few documents" 'documents, fewer than 30'

fresh; head -c 200 "$root/data/policies/POL-100003.json" >"$scratch/data/policies/POL-100003.json"
expect_failure "policy not JSON" 'POL-100003.json: not valid JSON'

fresh; edit_json "$scratch/data/policies/POL-100001.json" 'delete r.holder.email'
expect_failure "holder email missing" 'POL-100001.json: holder.email missing'

fresh; edit_json "$scratch/data/policies/POL-100005.json" 'r.holder.email="chris@gmail.com"'
expect_failure "real-looking email" 'POL-100005.json: holder.email is not a fictional'

fresh; edit_json "$scratch/data/policies/POL-100002.json" 'delete r.named_drivers'
expect_failure "motor without named drivers" 'POL-100002.json: motor: no named_drivers array'

fresh; edit_json "$scratch/data/policies/POL-100006.json" 'r.policy_number="POL-999999"'
expect_failure "number differs from file" 'POL-100006.json: policy_number differs from the file name'

echo "the sample data check fails on every broken copy"
