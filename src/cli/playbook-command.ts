/** `pg-handover playbook validate FILE`: shape and ordering rules, no server contacted. */
import { BadInputError } from '../errors.js';
import { loadPlaybook } from '../playbook/load.js';
import { PROCEDURES } from '../procedures/catalog.js';
import { out } from './output.js';

export async function validateCommand(file: string, procedureName = 'switchover'): Promise<void> {
  const entry = PROCEDURES.find((p) => p.name === procedureName || p.aliases.includes(procedureName));
  if (!entry)
    throw new BadInputError(
      `--procedure: unknown procedure "${procedureName}"; expected one of ${PROCEDURES.map((p) => p.name).join(', ')}`,
      'procedure',
    );
  const procedure = await entry.load();
  const playbook = await loadPlaybook(file, procedure.rules);
  out(
    `${file}: valid playbook "${playbook.name}" with ${playbook.steps.length} steps (${playbook.steps.map((s) => s.kind).join(', ')}), for the ${procedure.name} procedure`,
  );
}
