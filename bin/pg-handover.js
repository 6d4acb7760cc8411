#!/usr/bin/env node
// Loads the compiled CLI; `npm ci` builds it through the `prepare` script.
import('../dist/cli/main.js').catch((error) => {
  if (error && error.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write('pg-handover: not built yet; run `npm ci` (or `npm run build`) first\n');
    process.exit(1);
  }
  throw error;
});
