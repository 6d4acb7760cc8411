/** Loads a playbook: YAML → zod shape → ordering rules. The built-in one ships in playbooks/. */
import { fileURLToPath } from 'node:url';
import { problemsError, readYamlFile, validateSource, type YamlSource } from '../util/yaml-source.js';
import { checkPlaybookRules } from './rules.js';
import { playbookSchema, type Playbook } from './schema.js';

export const DEFAULT_PLAYBOOK = fileURLToPath(new URL('../../playbooks/switchover.yaml', import.meta.url));

export async function loadPlaybook(file: string = DEFAULT_PLAYBOOK, nodeNames?: readonly string[]): Promise<Playbook> {
  return buildPlaybook(await readYamlFile(file, 'playbook'), nodeNames);
}

export function buildPlaybook(source: YamlSource, nodeNames?: readonly string[]): Playbook {
  const playbook = validateSource(source, playbookSchema);
  const problems = checkPlaybookRules(playbook, nodeNames);
  if (problems.length > 0) {
    throw problemsError(source.file, problems.map((p) => ({
      path: p.path.reduce<string>((acc, part) => (typeof part === 'number' ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), ''),
      message: p.message,
      line: source.lineOf(p.path),
    })));
  }
  return playbook;
}
