/** `pg-handover playbook validate FILE`: shape and ordering rules, no server contacted. */
import { loadPlaybook } from '../playbook/load.js';
import { out } from './output.js';

export async function validateCommand(file: string): Promise<void> {
  const playbook = await loadPlaybook(file);
  out(`${file}: valid playbook "${playbook.name}" with ${playbook.steps.length} steps (${playbook.steps.map((s) => s.kind).join(', ')})`);
}
