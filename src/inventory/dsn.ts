/**
 * libpq connection strings, both `key=value` and `postgresql://` URI forms, parsed into a
 * flat map. pg-connection-string only reads URIs, so the key=value grammar lives here.
 */
import { parse as parseUri } from 'pg-connection-string';

export type Dsn = Readonly<Record<string, string>>;

/** libpq's sslmode values (the inventory checks them; postgres/tls.ts turns them into attempts). */
export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;

const KNOWN_KEYS = new Set([
  'host',
  'hostaddr',
  'port',
  'user',
  'dbname',
  'password',
  'passfile',
  'sslmode',
  'sslrootcert',
  'sslcert',
  'sslkey',
  'application_name',
  'connect_timeout',
  'options',
  'target_session_attrs',
  'keepalives',
  'keepalives_idle',
  'keepalives_interval',
  'keepalives_count',
  'service',
]);

export class DsnError extends Error {}

export function parseDsn(text: string): Dsn {
  const trimmed = text.trim();
  if (trimmed === '') throw new DsnError('empty connection string');
  const map = /^postgres(ql)?:\/\//i.test(trimmed) ? parseUriDsn(trimmed) : parseKeyValue(trimmed);
  for (const key of Object.keys(map)) {
    if (!KNOWN_KEYS.has(key)) throw new DsnError(`unknown connection parameter "${key}"`);
  }
  if (map.port !== undefined && !isPort(map.port)) {
    throw new DsnError(`port: expected integer 1–65535, got "${map.port}"`);
  }
  return map;
}

export function isPort(value: string | number): boolean {
  const n = typeof value === 'number' ? value : Number(value);
  return /^\d+$/.test(String(value)) && n >= 1 && n <= 65535;
}

function parseUriDsn(text: string): Record<string, string> {
  let parsed: ReturnType<typeof parseUri>;
  try {
    parsed = parseUri(text);
  } catch {
    throw new DsnError('malformed postgresql:// URI');
  }
  const map: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') continue;
    const name = key === 'database' ? 'dbname' : key;
    map[name] = String(value);
  }
  if (/:\/\/[^@/]*:[^@/]*@/.test(text) && map.port === undefined) {
    // pg-connection-string drops a non-numeric port silently; libpq would refuse it.
    const port = /:\/\/(?:[^@/]*@)?[^:/]*:([^/?]*)/.exec(text)?.[1];
    if (port) map.port = port;
  }
  return map;
}

/** Lenient: any key, as Postgres itself writes primary_conninfo with every libpq option. */
export function parseConninfo(text: string): Dsn {
  return text.trim() === '' ? {} : parseKeyValue(text.trim());
}

function parseKeyValue(text: string): Record<string, string> {
  const map: Record<string, string> = {};
  let i = 0;
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  while (true) {
    skipSpace();
    if (i >= text.length) break;
    const keyStart = i;
    while (i < text.length && /[A-Za-z0-9_]/.test(text[i]!)) i++;
    const key = text.slice(keyStart, i);
    skipSpace();
    if (!key || text[i] !== '=') {
      throw new DsnError(`expected key=value at character ${keyStart + 1}`);
    }
    i++;
    skipSpace();
    map[key] = readValue();
  }
  return map;

  function readValue(): string {
    let value = '';
    if (text[i] === "'") {
      i++;
      while (i < text.length && text[i] !== "'") {
        if (text[i] === '\\') i++;
        value += text[i++] ?? '';
      }
      if (text[i] !== "'") throw new DsnError('unterminated quoted value');
      i++;
      return value;
    }
    while (i < text.length && !/\s/.test(text[i]!)) {
      if (text[i] === '\\') i++;
      value += text[i++] ?? '';
    }
    return value;
  }
}

/** Formats a map back into libpq key=value form, quoting where needed. */
export function formatDsn(map: Dsn): string {
  return Object.entries(map)
    .map(([key, value]) => {
      const needsQuotes = value === '' || /[\s'\\]/.test(value);
      const escaped = value.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
      return `${key}=${needsQuotes ? `'${escaped}'` : escaped}`;
    })
    .join(' ');
}
