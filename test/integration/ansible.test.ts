/**
 * The Ansible recipe (examples/ansible/wave.yml) run for real by ansible-playbook against four
 * sandboxes on PostgreSQL 15.17, a rolling restart to 15.18 one cluster at a time: cluster 2 is
 * made to roll back (its replica cannot start), so the wave stops before cluster 3; fixed, the
 * wave run again answers "nothing to do" for cluster 1 and finishes 2, 3 and 4.
 */
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { startNode } from '../../src/sandbox/control.js';
import { nodeConn, sql } from './support/cluster.js';
import { describe, expect, startSandbox, stopSandbox, test, type SandboxFixture } from './support/fixtures.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OLDER = (await execa('bash', [join(ROOT, 'scripts/install-older-minor.sh'), '--print-dir'])).stdout.trim();
const NEWER = '/usr/lib/postgresql/15/bin';
const hasAnsible = (await execa('ansible-playbook', ['--version'], { reject: false })).exitCode === 0;

const versions = async (sandbox: SandboxFixture) => [
  ...new Set(
    await Promise.all(
      sandbox.manifest.nodes.map(async (n) =>
        Number(
          (await sql(nodeConn(sandbox, n.name, 'postgres'), "SELECT current_setting('server_version_num') AS v"))[0]!.v,
        ),
      ),
    ),
  ),
];

describe.skipIf(!hasAnsible)('the Ansible wave (examples/ansible/wave.yml)', () => {
  test('cluster 2 rolls back: the wave stops before cluster 3; run again, it continues at cluster 2 and finishes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pgh-ansible-'));
    const clusters: SandboxFixture[] = [];
    try {
      for (let i = 0; i < 4; i++) clusters.push(await startSandbox(1, 1, 'plain', false, OLDER));
      const hosts = Object.fromEntries(
        clusters.map((c, i) => [`cluster${i + 1}`, { pg_handover_inventory: c.manifest.inventoryFile }]),
      );
      await writeFile(join(dir, 'clusters.yml'), JSON.stringify({ pg_clusters: { hosts } }));
      const wave = () =>
        execa(
          'ansible-playbook',
          [
            '-i',
            join(dir, 'clusters.yml'),
            join(ROOT, 'examples/ansible/wave.yml'),
            '-e',
            `pg_handover="node ${join(ROOT, 'bin/pg-handover.js')}"`,
            '-e',
            `extra_flags="--bin-dir ${NEWER}"`,
            '-e',
            `reports_dir=${join(dir, 'reports')}`,
          ],
          {
            reject: false,
            env: {
              LC_ALL: 'C.UTF-8',
              ANSIBLE_NOCOLOR: '1',
              ANSIBLE_LOCALHOST_WARNING: 'False',
              ANSIBLE_INVENTORY_UNPARSED_WARNING: 'False',
            },
            timeout: 300_000,
          },
        );
      const report = async (name: string) =>
        (await readFile(join(dir, 'reports', `${name}.jsonl`), 'utf8'))
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, any>)
          .at(-1)!;

      // Cluster 2's replica cannot start again (a setting its running server never read).
      const broken = join(clusters[1]!.manifest.nodes[1]!.dataDir, 'postgresql.conf');
      await appendFile(broken, "\nshared_buffers = 'plenty'\n");
      const first = await wave();
      expect(first.exitCode, first.stdout).not.toBe(0);
      expect(first.stdout).toMatch(
        /cluster2 rolled back \(exit 4\): the cluster is as it was; the wave stops before the next cluster/,
      );
      expect((await report('cluster1')).report.outcome).toBe('succeeded');
      expect((await report('cluster2')).report.exitCode).toBe(4);
      expect(existsSync(join(dir, 'reports', 'cluster3.jsonl'))).toBe(false);
      expect(await versions(clusters[0]!)).toEqual([150018]);
      expect(await versions(clusters[2]!)).toEqual([150017]);

      // Fixed and started again by hand, as the report says; the wave again.
      await appendFile(broken, "\nshared_buffers = '32MB'\n");
      await startNode(clusters[1]!.manifest, 'pg2');
      const second = await wave();
      expect(second.exitCode, second.stdout).toBe(0);
      expect((await report('cluster1')).event).toBe('done');
      for (const name of ['cluster2', 'cluster3', 'cluster4'])
        expect((await report(name)).report.outcome, name).toBe('succeeded');
      for (const cluster of clusters) expect(await versions(cluster)).toEqual([150018]);
      process.stderr.write(
        `ansible wave: stopped at cluster2 (exit 4) before cluster3; again: cluster1 nothing to do, 2-4 done, every node on 15.18\n`,
      );
    } finally {
      await Promise.all(clusters.map((c) => stopSandbox(c)));
      await rm(dir, { recursive: true, force: true });
    }
  });
});
