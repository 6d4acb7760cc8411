/**
 * Every string that leaves the process (stdout, stderr, journal, report) goes through `redact`.
 * Secrets are registered when they are read (inventory, environment, password files), and
 * anything shaped like a password in a DSN or URI is masked even when it was never registered.
 */
const known = new Set<string>();
const MASK = '***';

export function registerSecret(secret: string | undefined): void {
  if (!secret || secret.length < 3) return;
  for (const variant of secretVariants(secret)) known.add(variant);
}

/**
 * The forms a secret takes once it is written down: as is, escaped inside a libpq conninfo
 * value, with quotes doubled inside an SQL literal, and escaped inside a JSON string (the journal
 * and --json). Redaction matches each, so a password with a space, quote or backslash is masked
 * wherever it travels.
 */
export function secretVariants(secret: string): string[] {
  const conninfo = secret.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
  const forms = new Set<string>();
  for (const base of [secret, conninfo]) {
    for (const sql of [base, base.replace(/'/g, "''")]) {
      forms.add(sql);
      forms.add(JSON.stringify(sql).slice(1, -1));
    }
  }
  return [...forms];
}

const patterns: Array<[RegExp, string]> = [
  [/(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, `$1${MASK}`],
  [/(postgres(?:ql)?:\/\/[^:/@\s]+:)[^@\s]+@/gi, `$1${MASK}@`],
  [/(PGPASSWORD=)\S+/g, `$1${MASK}`],
];

export function redact(text: string): string {
  let out = text;
  for (const secret of [...known].sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join(MASK);
  }
  for (const [pattern, replacement] of patterns) out = out.replace(pattern, replacement);
  return out;
}
