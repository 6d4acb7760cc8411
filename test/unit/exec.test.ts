/** The one process runner: what it returns for each way a command can end (real processes). */
import { describe, expect, it } from 'vitest';
import { run } from '../../src/shell/exec.js';

describe('run', () => {
  it('returns stdout and stderr without the final newline, and the exit code', async () => {
    const result = await run(['sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(result).toMatchObject({ ok: false, exitCode: 3, stdout: 'out', stderr: 'err', timedOut: false });
    expect(result.spawnError).toBeUndefined();
  });

  it('passes input and extends the environment instead of replacing it', async () => {
    const result = await run(['sh', '-c', 'read line; echo "$line $EXTRA ${PATH:+has-path}"'], {
      input: 'hello\n',
      env: { EXTRA: 'x' },
    });
    expect(result).toMatchObject({ ok: true, exitCode: 0, stdout: 'hello x has-path' });
  });

  it('times out: not ok, timedOut, and the process is gone', async () => {
    let pid: number | undefined;
    const result = await run(['sleep', '30'], { timeoutMs: 100, onSpawn: (p) => (pid = p) });
    expect(result.ok).toBe(false);
    expect(result.timedOut).toBe(true);
    expect(result.durationMs).toBeLessThan(5000);
    expect(pid).toBeGreaterThan(0);
    expect(() => process.kill(pid!, 0)).toThrow();
  });

  it('stops on the cancel signal and is not ok', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const result = await run(['sleep', '30'], { signal: controller.signal });
    expect(result.ok).toBe(false);
    expect(result.timedOut).toBe(false);
    expect(result.durationMs).toBeLessThan(5000);
  });

  it('leaves no timer behind once the command has ended (one kept the tool alive 200 ms after its work)', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    await run(['true'], { timeoutMs: 10_000 });
    expect(timers()).toBe(before);
  });

  it('says why a command did not run at all', async () => {
    const result = await run(['/nonexistent/pg-handover-no-such-program']);
    expect(result.ok).toBe(false);
    expect(result.exitCode).toBeUndefined();
    expect(result.spawnError).toMatch(/ENOENT/);
  });

  it('ends when the command exits although a background grandchild still holds its output', async () => {
    const started = performance.now();
    const result = await run(['sh', '-c', 'sleep 5 & echo started']);
    expect(result).toMatchObject({ ok: true, stdout: 'started' });
    expect(performance.now() - started).toBeLessThan(3000);
  });

  it('a command killed by a signal has no exit code and says which signal', async () => {
    const result = await run(['sh', '-c', 'kill -KILL $$']);
    expect(result.ok).toBe(false);
    expect(result.exitCode).toBeUndefined();
    expect(result.spawnError).toBe('killed by SIGKILL');
  });
});
