#!/bin/bash
# Each of issue 24's seven mutations, made alone: the unit suite must fail.
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
failed=0
try() {
  local file=$1 from=$2 to=$3 name=$4
  cp "$file" "$tmp"/orig
  python3 - "$file" "$from" "$to" <<'PY'
import sys
p,f,t=sys.argv[1:4]; s=open(p).read()
assert f in s, f"not found: {f}"
open(p,'w').write(s.replace(f,t,1))
PY
  if npx vitest run --project unit test/unit/step-effects.test.ts test/unit/runner.test.ts >"$tmp"/log 2>&1; then echo "SURVIVED: $name"; failed=1; else echo "killed: $name"; fi
  cp "$tmp"/orig "$file"
}
try src/steps/promote.ts "replay === undefined || replay < final" "replay === undefined || false" "promote: target behind the final position"
try src/steps/wait-catchup.ts "mode.failover === true && performance.now()" "true && performance.now()" "wait-catchup: stalled replay accepted in a planned switchover"
try src/steps/resume.ts "!ctx.noReturn.confirmed || repointed.has(name)" "true" "resume: releases a router not repointed"
try src/steps/fence-undo.ts "if (!FENCE_MODES[ctx.fenceMethod].failover) await proveWritable(ctx, ctx.primary.name);" "" "undo: releases without proving writable"
try src/runner/cluster-lock.ts "if (refused) {" "if (false) {" "cluster lock: allows a second run"
try src/runner/local-lock.ts "if (holder) return holder;" "" "lock file: allows a second run"
try src/steps/promote.ts "      noReturn: (ctx, out) => ({" "      _noReturn: (ctx, out) => ({" "promote: does not mark the point of no return"
exit $failed
