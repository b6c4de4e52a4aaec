#!/usr/bin/env bash
# The Lambda zip works: scripts/package-lambda builds it (its own checks: glibc needs, libraries
# from lib/, the bootstrap starts), and parley-lambda's integration suite passes when it runs the
# bootstrap unzipped from it, with Lambda's LD_LIBRARY_PATH:
#   check_package_lambda.sh SOURCE_DIR WORK_DIR IT_TEST_LAMBDA
# Exits 77 (ctest: skipped) without zip, unzip or objdump.
set -euo pipefail
src=$1 work=$2 suite=$3
for tool in zip unzip objdump; do
    command -v "$tool" >/dev/null || { echo "$tool not found: skipped"; exit 77; }
done
rm -rf "$work/unzipped" && mkdir -p "$work/unzipped"
"$src/scripts/package-lambda" --build-dir "$work/build" --out "$work/parley-lambda.zip"
(cd "$work/unzipped" && unzip -q "$work/parley-lambda.zip")
[ -x "$work/unzipped/bootstrap" ] || { echo "no executable bootstrap at the zip's root"; exit 1; }
PARLEY_LAMBDA_BOOTSTRAP=$work/unzipped/bootstrap \
    LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib \
    "$suite"
echo "the packaged bootstrap passes parley-lambda's suite"
