/**
 * A host witness's pg_isready: only pg_isready's own line makes an answer. Found by the container
 * soak (seed 20261205, iteration 10): `docker exec` on a container a fence_command had stopped
 * exits 1, which was read as pg_isready's "rejecting connections" (a live primary), and the
 * failover of a dead primary was refused as "seen by its witnesses".
 */
import { describe, expect, it } from 'vitest';
import { hostVerdict } from '../../src/cluster/witnesses.js';

const ran = (exitCode: number | undefined, stdout: string, stderr = '', timedOut = false) => ({
  exitCode,
  stdout,
  stderr,
  timedOut,
});
const verdict = (r: ReturnType<typeof ran>) => hostVerdict(r, 'pg2', 5432, 2000).verdict;

describe('host witness verdict', () => {
  it("a live server: pg_isready's accepting or rejecting line", () => {
    expect(verdict(ran(0, 'pg2:5432 - accepting connections'))).toBe('reaches');
    expect(verdict(ran(1, 'pg2:5432 - rejecting connections'))).toBe('reaches');
  });
  it("no server: pg_isready's no-response line, or no answer within the deadline", () => {
    expect(verdict(ran(2, 'pg2:5432 - no response'))).toBe('cannot-reach');
    expect(verdict(ran(undefined, '', '', true))).toBe('cannot-reach');
  });
  it('the host runner failing is no answer either way: unknown', () => {
    const stopped = 'Error response from daemon: Container d7422fb8e62e is not running';
    expect(verdict(ran(1, '', stopped))).toBe('unknown');
    expect(verdict(ran(2, '', 'sh: 1: Syntax error'))).toBe('unknown');
    expect(verdict(ran(255, '', 'ssh: connect to host db3 port 22: Connection refused'))).toBe('unknown');
    expect(verdict(ran(0, 'some other program'))).toBe('unknown');
    expect(verdict(ran(1, 'other:5433 - rejecting connections'))).toBe('unknown');
  });
});
