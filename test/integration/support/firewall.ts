/**
 * The tool cut off from one node while everyone else still reaches it: an iptables rule on
 * loopback matching only this process's user (the tool runs as root; the servers, PgBouncer and
 * the host witnesses' commands run as the postgres user). Dropped (a black hole) or rejected (a
 * reset). Removed by the exact same rule, never by flushing.
 */
import { execa } from 'execa';

export type Cut = 'drop' | 'reject';

export async function cutToolFrom(port: number, how: Cut): Promise<() => Promise<void>> {
  const uid = process.getuid?.() ?? 0;
  const rule = [
    'OUTPUT',
    '-o',
    'lo',
    '-p',
    'tcp',
    '--dport',
    String(port),
    '-m',
    'owner',
    '--uid-owner',
    String(uid),
    '-j',
    ...(how === 'drop' ? ['DROP'] : ['REJECT', '--reject-with', 'tcp-reset']),
  ];
  await execa('iptables', ['-w', '-I', ...rule]);
  return async () => {
    await execa('iptables', ['-w', '-D', ...rule], { reject: false });
  };
}
