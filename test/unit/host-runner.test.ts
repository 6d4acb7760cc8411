/**
 * The host runner through a command prefix and the files on a host, with real processes: a
 * prefix that runs locally (as `docker exec` would, argv kept) and a stand-in `ssh` that joins
 * its words into one line for a shell, as ssh does.
 */
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { remoteFiles } from '../../src/shell/files.js';
import { hostRunner } from '../../src/shell/host.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pgh-host-'));
  // ssh's behaviour: every word after the host joined with spaces, run by the remote user's shell.
  await writeFile(join(dir, 'ssh'), '#!/bin/sh\nshift\nexec sh -c "$*"\n');
  await chmod(join(dir, 'ssh'), 0o755);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const local = () => hostRunner('n1', { kind: 'command', command: ['sh', '-c', 'exec "$@"', 'sh'] }, 'x')!;
const ssh = () => hostRunner('n1', { kind: 'command', command: [join(dir, 'ssh'), 'db1'] }, 'x')!;

describe('host runner through a prefix', () => {
  it('an ssh prefix gets each word quoted: a script and a path with a space arrive whole', async () => {
    const result = await ssh().run(['sh', '-c', 'printf "%s|" "$@"', 'sh', '/a b/c', "it's", '$HOME']);
    expect(result.stdout).toBe("/a b/c|it's|$HOME|");
  });

  it('env crosses the prefix on standard input, never on the command line', async () => {
    for (const runner of [local(), ssh()]) {
      const result = await runner.run(['sh', '-c', 'echo "$PGPASSWORD/$LC_ALL"; ps -o args= -p $$'], {
        env: { PGPASSWORD: 's3cret word', LC_ALL: 'C' },
      });
      expect(result.stdout.split('\n')[0]).toBe('s3cret word/C');
      expect(result.argv.join(' ')).not.toContain('s3cret');
    }
  });

  it('input still reaches the command after the env lines', async () => {
    const result = await local().run(['sh', '-c', 'cat; echo "[$X]"'], { env: { X: '1' }, input: 'hello\n' });
    expect(result.stdout).toBe('hello\n[1]');
  });
});

describe('files on a host through a prefix', () => {
  it('reads exactly, replaces atomically keeping the mode, and says what is not writable', async () => {
    const file = join(dir, 'pgbouncer.ini');
    await writeFile(file, '[databases]\nappdb = host=a port=1\n\n', { mode: 0o640 });
    const files = remoteFiles(local(), 'via test');
    expect(await files.read(file)).toBe('[databases]\nappdb = host=a port=1\n\n');
    expect(await files.exists(file)).toBe(true);
    expect(await files.exists(join(dir, 'nope'))).toBe(false);
    await files.replace(file, '[databases]\nappdb = host=b port=2\n');
    expect(await readFile(file, 'utf8')).toBe('[databases]\nappdb = host=b port=2\n');
    expect((await stat(file)).mode & 0o777).toBe(0o640);
    expect(await files.replaceProblem(file)).toBeUndefined();
    await expect(files.read(join(dir, 'missing.ini'))).rejects.toThrow(/reading .*missing\.ini via test failed/);
  });
});
