/**
 * Edits the `[databases]` section of a PgBouncer config file. Only the host and port of the named
 * entries change; every other byte stays. The file is replaced atomically (temp file + rename),
 * because PgBouncer disconnects the clients of a database missing from a half-written file.
 */
import { chown, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { DsnError, formatDsn, parseDsn } from '../inventory/dsn.js';

export interface DatabaseEntry {
  readonly name: string;
  readonly lineIndex: number;
  readonly params: Readonly<Record<string, string>>;
}

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
    const match = /^\s*("?)([^"=\s]+)\1\s*=\s*(.*?)\s*$/.exec(line);
    if (!match) return;
    let params: Record<string, string> = {};
    try {
      params = { ...parseDsn(match[3]!) };
    } catch (error) {
      if (!(error instanceof DsnError)) throw error;
    }
    entries.push({ name: match[2]!, lineIndex, params });
  });
  return entries;
}

export function repointText(text: string, databases: readonly string[], host: string, port: number): string {
  const lines = text.split('\n');
  const entries = findDatabaseEntries(text);
  for (const db of databases) {
    const entry = entries.find((e) => e.name === db);
    if (!entry) throw new Error(`database "${db}" has no entry in [databases]`);
    const line = lines[entry.lineIndex]!;
    const prefix = /^(\s*"?[^"=\s]+"?\s*=\s*)/.exec(line)![1]!;
    lines[entry.lineIndex] = `${prefix}${formatDsn(withEndpoint(entry.params, host, port))}`;
  }
  return lines.join('\n');
}

function withEndpoint(params: Readonly<Record<string, string>>, host: string, port: number): Record<string, string> {
  const out: Record<string, string> = { ...params, host, port: String(port) };
  return out;
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
