// Runs the one-file CLI (dist/pg-handover.cjs) compiled from V8's code cache when the build left
// one (dist/pg-handover.cache): the same as require(), less the ~100 ms of compiling 2.4 MB.
// A cache this node rejects (another version or flags) is ignored: the bundle compiles as usual.
'use strict';
const { existsSync, readFileSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const { join } = require('node:path');
const vm = require('node:vm');

module.exports = function runBundle(dist) {
  const file = join(dist, 'pg-handover.cjs');
  const cacheFile = join(dist, 'pg-handover.cache');
  if (!existsSync(file)) return false;
  const cachedData = existsSync(cacheFile) ? readFileSync(cacheFile) : undefined;
  const script = new vm.Script(Module.wrap(readFileSync(file, 'utf8')), {
    filename: file,
    cachedData,
  });
  if (process.env.PG_HANDOVER_CODE_CACHE_REPORT)
    process.stderr.write(`code cache: ${!cachedData ? 'none' : script.cachedDataRejected ? 'rejected' : 'used'}\n`);
  const bundle = new Module(file, module);
  bundle.filename = file;
  bundle.paths = Module._nodeModulePaths(dist);
  if (process.env.PG_HANDOVER_WRITE_CODE_CACHE)
    process.once('exit', () => writeFileSync(cacheFile, script.createCachedData()));
  script.runInThisContext().call(bundle.exports, bundle.exports, Module.createRequire(file), bundle, file, dist);
  return true;
};
