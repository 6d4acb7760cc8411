/** The rolling restart's own flags; the CLI registers them from here (loaded for --help, so no imports). */
import type { ProcedureOptionsSpec } from '../types.js';

export interface RollingRestartOptions {
  /** --bin-dir: the new binaries (default: each node's own bin directory, for packages upgraded in place). */
  readonly binDir?: string;
  /** --all: restart every server even on the version it runs (an OS patch). */
  readonly all: boolean;
}

export const rollingRestartOptions: ProcedureOptionsSpec<RollingRestartOptions> = {
  flags: [
    {
      flags: '--bin-dir <dir>',
      description:
        "the new binaries, on every node's host (default: each node's own bin directory, for packages upgraded in place)",
    },
    {
      flags: '--all',
      description: 'restart every server even on the version it runs (an OS or library patch: OpenSSL, glibc)',
    },
  ],
  parse: (raw) => ({ binDir: typeof raw.binDir === 'string' ? raw.binDir : undefined, all: raw.all === true }),
};
