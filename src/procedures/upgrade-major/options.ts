/** The major upgrade's own flags; the CLI registers them from here (loaded for --help, so no imports). */
import type { ProcedureOptionsSpec } from '../types.js';

export interface UpgradeMajorOptions {
  /** --back: move the writes back to the old version, which stayed subscribed. */
  readonly back: boolean;
}

export const upgradeMajorOptions: ProcedureOptionsSpec<UpgradeMajorOptions> = {
  flags: [
    {
      flags: '--back',
      description: 'the way back: move the writes from the new version to the old one, which stayed subscribed',
    },
  ],
  parse: (raw) => ({ back: raw.back === true }),
};
