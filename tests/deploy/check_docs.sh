#!/usr/bin/env bash
# The docs tell the truth: every option `parleyd --help` lists is documented in
# docs/configuration.md (and the other way round), the README's two commands exist, and CI runs
# exactly the README's test command.
set -euo pipefail
root=$1 parleyd=$2
help=$("$parleyd" --help)
flags=$(grep -oE -- '--[a-z][a-z0-9-]+' <<<"$help" | sort -u)
doc_flags=$(grep -oE -- '`--[a-z][a-z0-9-]+`' "$root/docs/configuration.md" | tr -d '`' | sort -u)
missing=$(comm -23 <(echo "$flags") <(echo "$doc_flags") | grep -vx -- '--help\|--version' || true)
extra=$(comm -13 <(echo "$flags") <(echo "$doc_flags") || true)
[ -z "$missing" ] || { echo "options missing from docs/configuration.md: $missing"; exit 1; }
[ -z "$extra" ] || { echo "docs/configuration.md documents options parleyd does not have: $extra"; exit 1; }
for env in $(grep -oE 'PARLEY_[A-Z_]+' <<<"$help" | sort -u); do
    grep -q "$env" "$root/docs/configuration.md" || { echo "$env missing from docs/configuration.md"; exit 1; }
done
grep -q '^scripts/run ' "$root/README.md" || { echo "README lacks the run command"; exit 1; }
grep -q '^scripts/test ' "$root/README.md" || { echo "README lacks the test command"; exit 1; }
grep -q 'scripts/test' "$root/.ci/run" || { echo ".ci/run does not call scripts/test"; exit 1; }
[ "$("$parleyd" --version)" = "parleyd $(sed -n 's/^project(parley VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")" ] ||
    { echo "parleyd --version does not match the project version"; exit 1; }
echo "docs agree with parleyd --help"
