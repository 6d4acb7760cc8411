/** Loads a playbook: YAML → zod shape → the common rules and its procedure's ordering rules. */
import { problemsError, readYamlFile, validateSource, type YamlSource } from '../util/yaml-source.js';
import { commonRules, type PlaybookRules } from './rules.js';
import { playbookSchema, type Playbook } from './schema.js';

export async function loadPlaybook(
  file: string,
  rules: PlaybookRules,
  nodeNames?: readonly string[],
): Promise<Playbook> {
  return buildPlaybook(await readYamlFile(file, 'playbook'), rules, nodeNames);
}

export function buildPlaybook(source: YamlSource, rules: PlaybookRules, nodeNames?: readonly string[]): Playbook {
  const playbook = validateSource(source, playbookSchema);
  const problems = [...rules(playbook, nodeNames), ...commonRules(playbook, nodeNames)];
  if (problems.length > 0) {
    throw problemsError(
      source.file,
      problems.map((p) => ({
        path: p.path.reduce<string>(
          (acc, part) => (typeof part === 'number' ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part),
          '',
        ),
        message: p.message,
        line: source.lineOf(p.path),
      })),
    );
  }
  return playbook;
}
