/**
 * PgBouncer's config file as operators write it: `[databases]` entries (a `*` fallback among
 * them), possibly in files pulled in with `%include`. Only the host and port of chosen entries
 * change; every other byte stays. Each changed file is replaced atomically (temp file + rename),
 * because PgBouncer disconnects the clients of a database missing from a half-written file; on
 * the pooler's own host when it is another (`shell/files.ts`).
 */
import { dirname, isAbsolute, join } from 'node:path';
import { DsnError, parseConninfo } from '../../inventory/dsn.js';
import { localFiles, type HostFiles } from '../../shell/files.js';

export interface DatabaseEntry {
  readonly name: string;
  /** The file that holds it (the main file, or one it includes). */
  readonly file: string;
  readonly lineIndex: number;
  readonly params: Readonly<Record<string, string>>;
}

export interface ConfigFiles {
  /** Every file read, main first, with its text. */
  readonly texts: ReadonlyMap<string, string>;
  readonly entries: readonly DatabaseEntry[];
  /** `%include` targets that could not be found. */
  readonly missing: readonly string[];
}

const ENTRY = /^\s*(?:"([^"]+)"|([^"=\s]+))\s*=\s*(.*?)\s*$/;
const INCLUDE = /^\s*%include\s+(.+?)\s*$/;
const VALUE = String.raw`('(?:[^'\\]|\\.)*'|\S*)`;

/**
 * The entries of one text. `%include` is textual in PgBouncer, so the section carries into the
 * included file and back out; `include(path, section)` reads one and returns the section it ends in.
 */
function parse(
  text: string,
  file: string,
  section: string,
  include: (target: string, section: string) => string,
): { entries: DatabaseEntry[]; section: string } {
  const entries: DatabaseEntry[] = [];
  let current = section;
  text.split('\n').forEach((line, lineIndex) => {
    const header = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (header) {
      current = header[1]!.trim().toLowerCase();
      return;
    }
    const included = INCLUDE.exec(line);
    if (included) {
      current = include(included[1]!.replace(/^["']|["']$/g, ''), current);
      return;
    }
    if (current !== 'databases' || /^\s*([;#]|$)/.test(line)) return;
    const match = ENTRY.exec(line);
    if (!match) return;
    let params: Record<string, string> = {};
    try {
      params = { ...parseConninfo(match[3]!) };
    } catch (error) {
      if (!(error instanceof DsnError)) throw error;
    }
    entries.push({ name: match[1] ?? match[2]!, file, lineIndex, params });
  });
  return { entries, section: current };
}

/** The `[databases]` entries of a single text (no includes followed). */
export const findDatabaseEntries = (text: string): DatabaseEntry[] =>
  parse(text, '', '', (_t, section) => section).entries;

/**
 * Reads the config file and what it includes. PgBouncer resolves a relative `%include` against
 * its working directory, which is not known from outside; the including file's directory is
 * tried, which is where operators keep them.
 */
export async function readConfig(file: string, host: HostFiles = localFiles): Promise<ConfigFiles> {
  const texts = new Map<string, string>();
  const missing: string[] = [];
  const entries: DatabaseEntry[] = [];
  const pending: Array<{ path: string; text: string }> = [];
  const load = async (path: string): Promise<void> => {
    const text = await host.read(path);
    texts.set(path, text);
    pending.push({ path, text });
    for (const m of text
      .split('\n')
      .map((l) => INCLUDE.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)) {
      const target = resolveInclude(path, m[1]!.replace(/^["']|["']$/g, ''));
      if (!(await host.exists(target))) missing.push(target);
      else if (!texts.has(target)) await load(target);
    }
  };
  await load(file);
  const visit = (path: string, section: string, seen: ReadonlySet<string>): string => {
    const result = parse(texts.get(path)!, path, section, (target, inner) => {
      const resolved = resolveInclude(path, target);
      return texts.has(resolved) && !seen.has(resolved) ? visit(resolved, inner, new Set([...seen, resolved])) : inner;
    });
    entries.push(...result.entries);
    return result.section;
  };
  visit(file, '', new Set([file]));
  return { texts, entries, missing };
}

const resolveInclude = (from: string, target: string): string =>
  isAbsolute(target) ? target : join(dirname(from), target);

/** host/port per entry name (the `*` fallback included), from every file. */
export async function readDatabaseTargets(
  file: string,
  host: HostFiles = localFiles,
): Promise<{
  targets: Map<string, { host?: string; port?: number; file: string }>;
  missing: readonly string[];
  files: readonly string[];
  config: ConfigFiles;
}> {
  const config = await readConfig(file, host);
  return {
    config,
    targets: new Map(
      config.entries.map((e) => [
        e.name,
        { host: e.params.host, port: e.params.port ? Number(e.params.port) : undefined, file: e.file },
      ]),
    ),
    missing: config.missing,
    files: [...new Set(config.entries.map((e) => e.file))],
  };
}

/** One text with the host and port of `entries` (which must be in it) changed. */
function rewrite(text: string, entries: readonly DatabaseEntry[], host: string, port: number): string {
  const lines = text.split('\n');
  for (const entry of entries)
    lines[entry.lineIndex] = setParam(setParam(lines[entry.lineIndex]!, 'host', host), 'port', String(port));
  return lines.join('\n');
}

export function repointText(text: string, databases: readonly string[], host: string, port: number): string {
  const entries = findDatabaseEntries(text);
  const chosen = databases.map((db) => {
    const entry = entries.find((e) => e.name === db);
    if (!entry) throw new Error(`database "${db}" has no entry in [databases]`);
    return entry;
  });
  return rewrite(text, chosen, host, port);
}

/** Replaces one key's value in place (or appends it), leaving the rest of the line untouched. */
function setParam(line: string, key: string, value: string): string {
  const pattern = new RegExp(`(^|\\s)${key}\\s*=\\s*${VALUE}`);
  const [, head, rest] = /^(\s*(?:"[^"]+"|[^"=\s]+)\s*=)(.*)$/.exec(line)!;
  if (pattern.test(rest!)) return head + rest!.replace(pattern, (_m, lead: string) => `${lead}${key}=${value}`);
  return `${line.trimEnd()} ${key}=${value}`;
}

/** Points the chosen entries at host:port, each file that holds one replaced atomically. Returns the files changed. */
export async function repointEntries(
  config: ConfigFiles,
  chosen: readonly DatabaseEntry[],
  host: string,
  port: number,
  files: HostFiles = localFiles,
): Promise<string[]> {
  const changed: string[] = [];
  for (const [file, original] of config.texts) {
    const mine = chosen.filter((e) => e.file === file);
    if (mine.length === 0) continue;
    const updated = rewrite(original, mine, host, port);
    if (updated === original) continue;
    // Only over the text it was computed from: an edit made since is not silently undone.
    await files.replace(file, updated, original);
    changed.push(file);
  }
  return changed;
}
