#!/usr/bin/env node
// Loads the CLI. Commands run from the one-file bundle, compiled from V8's code cache (it starts
// ~150 ms sooner than the compiled files, and ~100 ms sooner again from the cache: a failover's
// first second counts); other help (no arguments, a command's --help) from the compiled files,
// which load only what help needs.
// `npm ci` builds both through the `prepare` script.
const args = process.argv.slice(2);
// --help and --version print the text the build wrote from the CLI itself (npm run help-text):
// no module is loaded, so they cost little more than node's own start-up.
const texts = {
  '--help': 'help.txt',
  '-h': 'help.txt',
  help: 'help.txt',
  '--version': 'version.txt',
  '-V': 'version.txt',
};
if (args.length === 1 && Object.hasOwn(texts, args[0])) {
  try {
    const { readFileSync } = await import('node:fs');
    process.stdout.write(readFileSync(new URL(`../dist/${texts[args[0]]}`, import.meta.url)));
    process.exit(0);
  } catch {
    // Not built with its texts: the CLI prints them.
  }
}
const helpOnly =
  args.length === 0 || (args.length === 1 && ['--help', '-h', '--version', '-V', 'help'].includes(args[0]));
const files = () => import('../dist/cli/main.js');
/** The one-file bundle, from V8's code cache (run-bundle.cjs); false when it was not built. */
const bundle = async () => {
  const { createRequire } = await import('node:module');
  const { fileURLToPath } = await import('node:url');
  return createRequire(import.meta.url)('./run-bundle.cjs')(fileURLToPath(new URL('../dist', import.meta.url)));
};
(helpOnly ? files() : bundle().then((ran) => (ran ? undefined : files()))).catch((error) => {
  if (error && error.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write('pg-handover: not built yet; run `npm ci` (or `npm run build`) first\n');
    process.exit(1);
  }
  throw error;
});
