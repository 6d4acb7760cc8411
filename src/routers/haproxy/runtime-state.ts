/**
 * What HAProxy's runtime API prints, parsed (pure): `show servers state <backend>`, `show stat`
 * (CSV) and `show info`. The meaning of the numbers is HAProxy's (doc/management.txt, "show
 * servers state"; src/server-t.h for the admin flags).
 */

export interface ServerState {
  readonly id: number;
  readonly name: string;
  readonly addr: string;
  readonly port: number;
  /** 0 stopped, 1 starting, 2 running, 3 stopping: what health checks (or their absence) say. */
  readonly opState: number;
  /** Bit field: forced/inherited/resolution maintenance (0x23), configured `disabled` (0x04), drain (0x18). */
  readonly adminState: number;
  /** Health checks enabled on it (srv_check_state has CHK_ST_ENABLED, 0x04). */
  readonly checked: boolean;
}

const ADMIN_MAINT = 0x23;
const ADMIN_DRAIN = 0x18;
const CHECK_ENABLED = 0x04;

export const inMaint = (s: ServerState): boolean => (s.adminState & ADMIN_MAINT) !== 0;
export const draining = (s: ServerState): boolean => (s.adminState & ADMIN_DRAIN) !== 0;
/** Takes new connections: not in maintenance or drain, and running as far as its checks know. */
export const usable = (s: ServerState): boolean => !inMaint(s) && !draining(s) && s.opState === 2;
/** What `show stat` would call it. */
export function statusOf(s: ServerState): string {
  if (inMaint(s)) return 'MAINT';
  if (draining(s)) return 'DRAIN';
  return s.opState === 2 ? 'UP' : s.opState === 3 ? 'NOLB' : 'DOWN';
}

/** `show servers state <backend>`: a version line, a `#` header naming the fields, then one line per server. */
export function parseServersState(text: string): ServerState[] {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const header = lines.find((l) => l.startsWith('#'));
  if (!header) throw new Error(firstLine(text) || 'no "show servers state" header in the answer');
  const fields = header.slice(1).trim().split(/\s+/);
  const at = (name: string) => {
    const i = fields.indexOf(name);
    if (i < 0) throw new Error(`"show servers state" has no ${name} field`);
    return i;
  };
  const [id, name, addr, port, op, admin, check] = [
    'srv_id',
    'srv_name',
    'srv_addr',
    'srv_port',
    'srv_op_state',
    'srv_admin_state',
    'srv_check_state',
  ].map(at);
  return lines
    .filter((l) => !l.startsWith('#') && /^\d+\s/.test(l) && l.split(/\s+/).length >= fields.length - 1)
    .map((line) => {
      const v = line.split(/\s+/);
      return {
        id: Number(v[id!]),
        name: v[name!]!,
        addr: v[addr!]!,
        port: Number(v[port!]),
        opState: Number(v[op!]),
        adminState: Number(v[admin!]),
        checked: (Number(v[check!]) & CHECK_ENABLED) !== 0,
      };
    });
}

/** `show stat` CSV: one record per line, keyed by the header's field names. */
export function parseStatCsv(text: string): Record<string, string>[] {
  const lines = text.split('\n').filter(Boolean);
  const header = lines.find((l) => l.startsWith('# '));
  if (!header) throw new Error(firstLine(text) || 'no "show stat" header in the answer');
  const fields = header.slice(2).split(',');
  return lines
    .filter((l) => !l.startsWith('#'))
    .map((l) => {
      const values = l.split(',');
      return Object.fromEntries(fields.map((f, i) => [f, values[i] ?? '']));
    });
}

/** `show info`: `Key: value` lines. */
export function parseInfo(text: string): Record<string, string> {
  return Object.fromEntries(
    text.split('\n').flatMap((l) => {
      const i = l.indexOf(': ');
      return i > 0 ? [[l.slice(0, i), l.slice(i + 2).trim()]] : [];
    }),
  );
}

const firstLine = (text: string): string => text.trim().split('\n')[0]?.trim() ?? '';

/**
 * Whether `set maxconn frontend` can deadlock this HAProxy (issue #2726: restoring a frontend's
 * maxconn while a client waits on it hangs the process until its watchdog kills it). Fixed in
 * 2.6.20, 3.0.6 and 3.1; the other branches since 2.4 (where it came in) are treated as affected.
 */
export function maxconnDeadlocks(version: string): boolean {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(version);
  if (!m) return true;
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  if (major > 3 || (major === 3 && minor >= 1)) return false;
  if (major === 3 && minor === 0) return patch < 6;
  if (major === 2 && minor === 6) return patch < 20;
  return major === 2 && minor >= 4;
}

/** The answer of a `set ...` command: empty when it worked; otherwise HAProxy's message. */
export const setProblem = (answer: string): string | undefined => {
  const text = answer.trim();
  return text ? text.split('\n')[0] : undefined;
};
