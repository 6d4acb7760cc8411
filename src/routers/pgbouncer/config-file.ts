/**
 * Edits the `[databases]` section of a PgBouncer config file. Only the host and port of the named
 * entries change; every other byte stays. The file is replaced atomically (temp file + rename),
 * because PgBouncer disconnects the clients of a database missing from a half-written file.
 */
import { chown, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { DsnError, parseConninfo } from '../../inventory/dsn.js';

export interface DatabaseEntry {
  readonly name: string;
  readonly lineIndex: number;
  readonly params: Readonly<Record<string, string>>;
}

const ENTRY = /^\s*(?:"([^"]+)"|([^"=\s]+))\s*=\s*(.*?)\s*$/;
const VALUE = String.raw`('(?:[^'\\]|\\.)*'|\S*)`;

export function findDatabaseEntries(text: string): DatabaseEntry[] {
  const entries: DatabaseEntry[] = [];
  let inDatabases = false;
  text.split('\n').forEach((line, lineIndex) => {
    const section = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (section) {
      inDatabases = section[1]!.trim().toLowerCase() === 'databases';
      return;
    }
    if (!inDatabases || /^\s*([;#]|$)/.test(line)) return;
    const match = ENTRY.exec(line);
    if (!match) return;
    let params: Record<string, string> = {};
    try {
      params = { ...parseConninfo(match[3]!) };
    } catch (error) {
      if (!(error instanceof DsnError)) throw error;
    }
    entries.push({ name: match[1] ?? match[2]!, lineIndex, params });
  });
  return entries;
}

export function repointText(text: string, databases: readonly string[], host: string, port: number): string {
  const lines = text.split('\n');
  const entries = findDatabaseEntries(text);
  for (const db of databases) {
    const entry = entries.find((e) => e.name === db);
    if (!entry) throw new Error(`database "${db}" has no entry in [databases]`);
    lines[entry.lineIndex] = setParam(setParam(lines[entry.lineIndex]!, 'host', host), 'port', String(port));
  }
  return lines.join('\n');
}

/** Replaces one key's value in place (or appends it), leaving the rest of the line untouched. */
function setParam(line: string, key: string, value: string): string {
  const pattern = new RegExp(`(^|\\s)${key}\\s*=\\s*${VALUE}`);
  const [, head, rest] = /^(\s*(?:"[^"]+"|[^"=\s]+)\s*=)(.*)$/.exec(line)!;
  if (pattern.test(rest!)) return head + rest!.replace(pattern, (_m, lead: string) => `${lead}${key}=${value}`);
  return `${line.trimEnd()} ${key}=${value}`;
}

export async function readDatabaseTargets(file: string): Promise<Map<string, { host?: string; port?: number }>> {
  const text = await readFile(file, 'utf8');
  return new Map(
    findDatabaseEntries(text).map((e) => [e.name, { host: e.params.host, port: e.params.port ? Number(e.params.port) : undefined }]),
  );
}

export async function repointConfigFile(file: string, databases: readonly string[], host: string, port: number): Promise<void> {
  const original = await readFile(file, 'utf8');
  const updated = repointText(original, databases, host, port);
  if (updated === original) return;
  const info = await stat(file);
  const temp = `${file}.pg-handover-${process.pid}.tmp`;
  await writeFile(temp, updated, { mode: info.mode & 0o777 });
  await chown(temp, info.uid, info.gid).catch(() => undefined);
  await rename(temp, file);
}
