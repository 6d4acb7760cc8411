// The one-file CLI (dist/pg-handover.cjs) and V8's code cache for it (dist/pg-handover.cache).
// CommonJS, so that bin/run-bundle.cjs can compile it with vm.Script from the cache: node 20 has
// no code cache for ES modules, and compiling 2.4 MB took about 100 ms of every start.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';

await build({
  entryPoints: ['dist/cli/main.js'],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  outfile: 'dist/pg-handover.cjs',
  external: ['pg-native', 'testcontainers'],
  // import() becomes a lazy require(): a script compiled from a code cache has no dynamic-import
  // callback on node 20 ("A dynamic import callback was not specified"). testcontainers is
  // CommonJS, and stays loaded only on demand.
  supported: { 'dynamic-import': false },
  logLevel: 'warning',
  define: {
    // package-root.ts finds the package from its own location.
    'import.meta.url': '__pgh_module_url',
    // pg asks `navigator`, then builds a `Response`, to learn whether it runs on Cloudflare
    // Workers (and a terminal library asks `navigator` whether it runs in a browser): on node 20
    // the first read of either loads undici, http2 and the fetch stack, about 40 ms of every start
    // in a failover's profile. The CLI runs only on node and never uses fetch (the bundle names
    // Response nowhere else).
    navigator: 'undefined',
    'globalThis.navigator': 'undefined',
    Response: 'undefined',
  },
  banner: { js: "const __pgh_module_url = require('node:url').pathToFileURL(__filename).href;" },
});
// The cache is written by a run of the bundle itself, through the same loader the CLI uses: a
// playbook's validation compiles the start-up, the inventory and playbook parsers (YAML, zod)
// that every command needs. A cache V8 rejects later is only not used.
rmSync('dist/pg-handover.cache', { force: true });
execFileSync(process.execPath, ['bin/pg-handover.js', 'playbook', 'validate', 'playbooks/switchover.yaml'], {
  env: { ...process.env, PG_HANDOVER_WRITE_CODE_CACHE: '1' },
  stdio: 'ignore',
});
