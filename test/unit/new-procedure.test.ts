/**
 * ARCHITECTURE.md's "add a procedure" recipe, done for real: a copy of src/ gets a new procedure
 * (`drain-check`: its own flag, options type, decision input, report section) touching only its
 * folder, the catalog and its playbook. The copy type-checks and follows every import rule, so
 * no shared type (ProcedureOptions, DecideInput, PlanContext, Report) had to change.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../..', import.meta.url).pathname;

const FILES: Record<string, string> = {
  'src/procedures/drain-check/options.ts': `import type { ProcedureOptionsSpec } from '../types.js';

export interface DrainCheckOptions {
  readonly maxClients: number;
}

export const drainCheckOptions: ProcedureOptionsSpec<DrainCheckOptions> = {
  flags: [{ flags: '--max-clients <n>', description: 'at most this many clients may wait' }],
  parse: (raw) => ({ maxClients: Number(raw.maxClients ?? 0) }),
};
`,
  'src/procedures/drain-check/decide.ts': `import { pass, warn } from '../../decide/checks.js';
import type { ClusterState } from '../../model/cluster-state.js';
import type { Decision } from '../../playbook/plan.js';
import type { Playbook } from '../../playbook/schema.js';
import type { DecideInput } from '../types.js';
import type { DrainCheckOptions } from './options.js';

export function decideDrainCheck(state: ClusterState, _playbook: Playbook, input: DecideInput<DrainCheckOptions>): Decision {
  const max = input.options?.maxClients ?? 0;
  const check = state.poolers.length > max ? warn('drain', \`more than \${max} poolers\`) : pass('drain', 'drained');
  return { checks: [check], done: 'nothing to drain' };
}
`,
  'src/procedures/drain-check/index.ts': `import type { Procedure } from '../types.js';
import { decideDrainCheck } from './decide.js';
import { drainCheckOptions, type DrainCheckOptions } from './options.js';

export const drainCheck: Procedure<DrainCheckOptions> = {
  name: 'drain-check',
  defaultPlaybook: 'playbooks/drain-check.yaml',
  rules: () => [], // its own ordering rules: none beyond the common ones
  options: drainCheckOptions,
  decide: decideDrainCheck,
  halfDone: () => undefined,
  unconfirmed: () => [],
  question: () => 'Drain?',
  headline: (report) => \`DRAIN CHECK \${report.outcome}\`,
  reportSection: (context) => ({ oldPrimaryState: \`\${context.primary.name} drained\` }),
};
`,
  'playbooks/drain-check.yaml': 'name: drain-check\\nsteps:\\n  - kind: preflight\\n',
};

describe('adding a procedure (ARCHITECTURE.md recipe)', () => {
  it('its folder, its playbook and one catalog entry: the copy type-checks and follows every import rule', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgh-new-procedure-'));
    try {
      for (const part of ['src', 'playbooks']) cpSync(join(ROOT, part), join(dir, part), { recursive: true });
      for (const file of ['tsconfig.json', 'tsconfig.build.json', '.dependency-cruiser.cjs', 'package.json']) {
        cpSync(join(ROOT, file), join(dir, file));
      }
      symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
      mkdirSync(join(dir, 'src/procedures/drain-check'));
      for (const [file, text] of Object.entries(FILES)) writeFileSync(join(dir, file), text);
      const catalog = join(dir, 'src/procedures/catalog.ts');
      const entry = `  {
    name: 'drain-check',
    aliases: [],
    summary: 'is every pooler drained?',
    targetHelp: 'not used',
    flags: drainCheckOptions.flags,
    load: async () => (await import('./drain-check/index.js')).drainCheck,
  },
];`;
      // The catalog reads the flags from the light options.ts, like the other entries.
      const text = readFileSync(catalog, 'utf8')
        .replace(/\n\];/, `\n${entry}`)
        .replace(
          'import type { AnyProcedure',
          "import { drainCheckOptions } from './drain-check/options.js';\nimport type { AnyProcedure",
        );
      writeFileSync(catalog, text);
      const tsc = await execa('npx', ['tsc', '-p', 'tsconfig.build.json', '--noEmit'], { cwd: dir, reject: false });
      expect(tsc.exitCode, tsc.stdout + tsc.stderr).toBe(0);
      const cruise = await execa(
        'npx',
        ['depcruise', 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'],
        {
          cwd: dir,
          reject: false,
        },
      );
      expect(cruise.exitCode, cruise.stdout + cruise.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
