import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BadInputError } from '../../src/errors.js';
import { buildPlaybook } from './support/switchover.js';
import { parseYamlText } from '../../src/util/yaml-source.js';

const DEFAULT = readFileSync('playbooks/switchover.yaml', 'utf8');
const minimal = (steps: string) => `name: p\nsteps:\n${steps}`;
const core =
  '  - kind: preflight\n  - kind: fence-writes\n  - kind: wait-catchup\n  - kind: promote\n  - kind: repoint-pooler\n  - kind: resume\n';
const load = (text: string, nodes = ['pg1', 'pg2']) => buildPlaybook(parseYamlText(text, 'pb.yaml', 'playbook'), nodes);

describe('playbooks', () => {
  it('the shipped switchover playbook is valid, with defaults filled in', () => {
    const playbook = load(DEFAULT);
    expect(playbook.steps.map((s) => s.kind)).toContain('demote-old-primary');
    const fence = playbook.steps.find((s) => s.kind === 'fence-writes');
    expect(fence).toMatchObject({ method: 'auto', pause_timeout: 5000, stop_timeout: 30000 });
  });

  it('a minimal playbook is valid', () => {
    expect(load(minimal(core)).steps).toHaveLength(6);
  });

  const bad: Array<[string, string, RegExp]> = [
    ['no name', `steps:\n${core}`, /\(top level\)|name: required/],
    ['no steps', 'name: p\n', /steps: required/],
    ['empty steps', 'name: p\nsteps: []\n', /steps: expected at least one step/],
    ['steps not a list', 'name: p\nsteps: 3\n', /pb\.yaml:2 steps: expected array, got 3/],
    [
      'demote before promote',
      minimal(core.replace('  - kind: promote\n', '  - kind: demote-old-primary\n  - kind: promote\n')),
      /steps\[3\]\.kind: demote-old-primary must come after promote/,
    ],
    [
      'unknown step kind',
      minimal(`${core}  - kind: reboot\n`),
      /pb\.yaml:9 steps\[6\]\.kind: unknown step kind; expected one of preflight/,
    ],
    ['step without kind', minimal(`${core}  - timeout: 5s\n`), /steps\[6\]\.kind: unknown step kind/],
    ['kind not a string', minimal(`${core}  - kind: 7\n`), /steps\[6\]\.kind: unknown step kind.*got 7/],
    [
      'unknown field on a step',
      minimal(core.replace('kind: promote', 'kind: promote\n    retries: 3')),
      /steps\[3\]: unknown field "retries"/,
    ],
    [
      'negative timeout',
      minimal(core.replace('kind: promote', 'kind: promote\n    timeout: -5')),
      /steps\[3\]\.timeout: expected a positive duration such as "5s" or "250ms", got -5/,
    ],
    [
      'zero timeout',
      minimal(core.replace('kind: promote', 'kind: promote\n    timeout: 0s')),
      /steps\[3\]\.timeout: expected a positive duration/,
    ],
    [
      'timeout as words',
      minimal(core.replace('kind: promote', 'kind: promote\n    timeout: soon')),
      /steps\[3\]\.timeout: expected a positive duration.*got "soon"/,
    ],
    [
      'timeout as a list',
      minimal(core.replace('kind: promote', 'kind: promote\n    timeout: [1]')),
      /steps\[3\]\.timeout: expected a duration/,
    ],
    [
      'fence method unknown',
      minimal(core.replace('kind: fence-writes', 'kind: fence-writes\n    method: pray')),
      /steps\[1\]\.method: expected one of "auto", "clean-stop", "role-fence", "read-only", "platform", got "pray"/,
    ],
    [
      'lag bytes negative',
      minimal(core.replace('kind: preflight', 'kind: preflight\n    max_lag_bytes: -1')),
      /steps\[0\]\.max_lag_bytes: expected 0 or more bytes/,
    ],
    [
      'lag bytes fractional',
      minimal(core.replace('kind: preflight', 'kind: preflight\n    max_lag_bytes: 1.5')),
      /steps\[0\]\.max_lag_bytes: expected a whole number of bytes/,
    ],
    [
      'lag seconds a string',
      minimal(core.replace('kind: preflight', 'kind: preflight\n    max_lag_seconds: ten')),
      /steps\[0\]\.max_lag_seconds: expected a number of seconds, got "ten"/,
    ],
    [
      'allow_logical_slots not boolean',
      minimal(core.replace('kind: preflight', 'kind: preflight\n    allow_logical_slots: maybe')),
      /steps\[0\]\.allow_logical_slots: expected true or false, got "maybe"/,
    ],
    [
      'no promote step',
      minimal(core.replace('  - kind: promote\n', '')),
      /steps: expected exactly one promote step, found 0/,
    ],
    ['two promote steps', minimal(`${core}  - kind: promote\n`), /expected exactly one promote step, found 2/],
    [
      'no fence',
      minimal(core.replace('  - kind: fence-writes\n', '')),
      /a fence-writes step is required before promote/,
    ],
    [
      'no catch-up',
      minimal(core.replace('  - kind: wait-catchup\n', '')),
      /a wait-catchup step is required before promote/,
    ],
    [
      'fence after promote',
      minimal(
        '  - kind: preflight\n  - kind: wait-catchup\n  - kind: promote\n  - kind: fence-writes\n  - kind: repoint-pooler\n  - kind: resume\n',
      ),
      /steps\[3\]\.kind: fence-writes must come before promote/,
    ],
    [
      'catch-up before fence',
      minimal(
        '  - kind: preflight\n  - kind: wait-catchup\n  - kind: fence-writes\n  - kind: promote\n  - kind: repoint-pooler\n  - kind: resume\n',
      ),
      /wait-catchup must come after fence-writes/,
    ],
    [
      'resume before repoint',
      minimal(
        '  - kind: preflight\n  - kind: fence-writes\n  - kind: wait-catchup\n  - kind: promote\n  - kind: resume\n  - kind: repoint-pooler\n',
      ),
      /resume must come after repoint-pooler/,
    ],
    [
      'repoint before promote',
      minimal(
        '  - kind: preflight\n  - kind: fence-writes\n  - kind: wait-catchup\n  - kind: repoint-pooler\n  - kind: promote\n  - kind: resume\n',
      ),
      /repoint-pooler must come after promote/,
    ],
    [
      'no preflight first',
      minimal(core.replace('  - kind: preflight\n', '') + '  - kind: preflight\n'),
      /steps\[0\]\.kind: the first step must be preflight/,
    ],
    [
      'sql on unknown node',
      minimal(`${core}  - kind: sql\n    node: pg9\n    sql: SELECT 1\n`),
      /steps\[6\]\.node: unknown node "pg9"; expected primary, target, old-primary, new-primary or one of pg1, pg2/,
    ],
    ['sql without sql', minimal(`${core}  - kind: sql\n    node: target\n`), /steps\[6\]\.sql: required/],
    [
      'exec with a string command',
      minimal(`${core}  - kind: exec\n    command: "rm -rf /"\n`),
      /steps\[6\]\.command: expected array, got "rm -rf \/"/,
    ],
    [
      'exec with an empty command',
      minimal(`${core}  - kind: exec\n    command: []\n`),
      /steps\[6\]\.command: expected a command as a list of words/,
    ],
    ['tab-indented YAML', 'name: p\nsteps:\n\t- kind: promote\n', /pb\.yaml:\d+: invalid YAML/],
    ['unclosed bracket', 'name: p\nsteps: [\n', /pb\.yaml:\d+: invalid YAML/],
  ];
  it.each(bad)('rejects %s with one line naming the field', (_name, text, expected) => {
    const error = (() => {
      try {
        load(text);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(BadInputError);
    expect((error as Error).message).toMatch(expected);
    expect((error as Error).message).not.toContain('\n');
  });
});
