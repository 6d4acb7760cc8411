/**
 * Bad flags and files through the real CLI: one line naming the problem, exit code 2, no stack
 * trace, and nothing sent to any server (listeners stand where the inventory's servers would be).
 */
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let connections = 0;
const servers: Server[] = [];
let dir = '';
let inventory = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pgh-cli-'));
  const ports: number[] = [];
  for (let i = 0; i < 4; i++) {
    const server = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    ports.push((server.address() as { port: number }).port);
  }
  inventory = join(dir, 'inventory.yaml');
  writeFileSync(
    inventory,
    `nodes:
${ports
  .slice(0, 3)
  .map((p, i) => `  - name: pg${i + 1}\n    dsn: host=127.0.0.1 port=${p} user=u dbname=postgres`)
  .join('\n')}
poolers:
  - name: pgb
    admin_dsn: host=127.0.0.1 port=${ports[3]} user=admin dbname=pgbouncer
    config_file: ${join(dir, 'pgbouncer.ini')}
    databases: [appdb]
`,
  );
  writeFileSync(join(dir, 'bad-playbook.yaml'), 'name: x\nsteps:\n  - kind: preflight\n  - kind: teleport\n');
  const bomb = [
    'a: &a [x,x,x,x,x,x,x,x,x]',
    ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(',')}]`),
  ];
  writeFileSync(join(dir, 'bomb.yaml'), `${bomb.join('\n')}\n`);
  const core =
    '  - kind: preflight\n  - kind: fence-writes\n  - kind: wait-catchup\n  - kind: promote\n  - kind: repoint-pooler\n  - kind: resume\n';
  writeFileSync(
    join(dir, 'long.yaml'),
    `name: x\nsteps:\n${core.replace('kind: promote', 'kind: promote\n    timeout: 1000h')}`,
  );
  writeFileSync(join(dir, 'typo.yaml'), `name: x\nsteps:\n${core}  - kind: exec\n    command: [notify, "{tagret}"]\n`);
  writeFileSync(
    join(dir, 'shell-host.yaml'),
    readFileSync(inventory, 'utf8').replace(
      'host=127.0.0.1 port=' + ports[0],
      `host=127.0.0.1;touch${dir}/x port=${ports[0]}`,
    ),
  );
  writeFileSync(
    join(dir, 'bad-dsn.yaml'),
    `nodes:\n  - name: a\n    dsn: host=127.0.0.1 port=nope\n  - name: b\n    dsn: host=127.0.0.1 port=1\npoolers:\n  - name: p\n    admin_dsn: host=127.0.0.1 port=1 user=a dbname=pgbouncer\n    config_file: /x\n    databases: [d]\n`,
  );
});

afterAll(() => {
  for (const server of servers) server.close();
  rmSync(dir, { recursive: true, force: true });
});

const run = (...args: string[]) => execa('node', ['bin/pg-handover.js', ...args], { reject: false, stdin: 'ignore' });

describe('bad input through the CLI', () => {
  const cases: Array<[string, () => string[], RegExp]> = [
    [
      'promote without --inventory',
      () => ['promote', '--dry-run'],
      /required option '-i, --inventory <file>' not specified/,
    ],
    [
      'unknown target',
      () => ['promote', '-i', inventory, '--target', 'pg9', '--yes'],
      /--target: unknown node "pg9"; expected one of pg1, pg2, pg3/,
    ],
    ['no --yes without a terminal', () => ['promote', '-i', inventory], /--yes: required when stdin is not a terminal/],
    ['unknown flag', () => ['promote', '-i', inventory, '--bogus'], /unknown option '--bogus'/],
    [
      'target flag without a value',
      () => ['promote', '-i', inventory, '--dry-run', '--target'],
      /option '-t, --target <node>' argument missing/,
    ],
    [
      'unreadable inventory',
      () => ['promote', '-i', join(dir, 'missing.yaml'), '--dry-run'],
      /inventory .*missing\.yaml: cannot read file \(ENOENT\)/,
    ],
    [
      'bad playbook',
      () => ['promote', '-i', inventory, '-p', join(dir, 'bad-playbook.yaml'), '--dry-run'],
      /bad-playbook\.yaml:4 steps\[1\]\.kind: unknown step kind.*got "teleport"/,
    ],
    [
      'bad DSN',
      () => ['promote', '-i', join(dir, 'bad-dsn.yaml'), '--dry-run'],
      /bad-dsn\.yaml:3 nodes\[0\]\.dsn: port: expected integer 1–65535, got "nope"/,
    ],
    [
      'replicas not a number',
      () => ['sandbox', 'up', '--replicas', 'abc', '--dir', join(dir, 'sb')],
      /--replicas: expected integer 1–8, got "abc"/,
    ],
    [
      'replicas zero',
      () => ['sandbox', 'up', '--replicas', '0', '--dir', join(dir, 'sb')],
      /--replicas: expected integer 1–8, got "0"/,
    ],
    ['unknown command', () => ['frobnicate'], /unknown command 'frobnicate'/],
    ['status without --inventory', () => ['status'], /required option '-i, --inventory <file>' not specified/],
    [
      'YAML alias bomb as inventory',
      () => ['promote', '-i', join(dir, 'bomb.yaml'), '--dry-run'],
      /bomb\.yaml: invalid YAML: .*alias/i,
    ],
    [
      'YAML alias bomb as playbook',
      () => ['promote', '-i', inventory, '-p', join(dir, 'bomb.yaml'), '--dry-run'],
      /bomb\.yaml: invalid YAML: .*alias/i,
    ],
    [
      'a timeout Node cannot honour',
      () => ['promote', '-i', inventory, '-p', join(dir, 'long.yaml'), '--dry-run'],
      /long\.yaml:7 steps\[3\]\.timeout: expected at most 24h, got "1000h"/,
    ],
    [
      'a placeholder typo',
      () => ['promote', '-i', inventory, '-p', join(dir, 'typo.yaml'), '--dry-run'],
      /typo\.yaml:\d+ steps\[6\]\.command\[1\]: unknown placeholder in "\{tagret\}"/,
    ],
    [
      'shell metacharacters in a DSN host',
      () => ['promote', '-i', join(dir, 'shell-host.yaml'), '--dry-run'],
      /nodes\[0\]\.dsn: host: expected a host name or IP address/,
    ],
    [
      'validate a missing playbook',
      () => ['playbook', 'validate', join(dir, 'nope.yaml')],
      /playbook .*nope\.yaml: cannot read file \(ENOENT\)/,
    ],
  ];

  it.each(cases)('%s', async (_name, args, expected) => {
    const before = connections;
    const result = await run(...args());
    expect(result.exitCode).toBe(2);
    const lines = String(result.stderr)
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('(run with --help'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^pg-handover: /);
    expect(lines[0]).toMatch(expected);
    expect(String(result.stderr)).not.toMatch(/\n\s+at /);
    expect(connections - before).toBe(0);
  });

  it('a valid playbook validates without contacting anything', async () => {
    const result = await run('playbook', 'validate', 'playbooks/switchover.yaml');
    expect(result.exitCode).toBe(0);
    expect(String(result.stdout)).toMatch(/valid playbook "switchover" with 12 steps/);
  });
});
