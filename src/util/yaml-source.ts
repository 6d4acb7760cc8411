/**
 * Loads a YAML file and validates it with a zod schema, turning every problem into one line
 * that names the file, the line, the field path and what was expected.
 */
import { readFile, stat } from 'node:fs/promises';
import { LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { BadInputError } from '../errors.js';

export interface SourceProblem {
  readonly path: string;
  readonly message: string;
  readonly line?: number;
}

export interface YamlSource {
  readonly file: string;
  readonly data: unknown;
  lineOf(path: ReadonlyArray<PropertyKey>): number | undefined;
}

/** An inventory or playbook larger than this is refused before it is parsed (a 30 MB one took 27 s to refuse). */
export const MAX_YAML_BYTES = 1024 * 1024;

export async function readYamlFile(file: string, what: string): Promise<YamlSource> {
  let text: string;
  try {
    const size = (await stat(file)).size;
    if (size > MAX_YAML_BYTES)
      throw new BadInputError(
        `${what} ${file}: ${(size / 1024 / 1024).toFixed(1)} MiB, over the ${MAX_YAML_BYTES / 1024 / 1024} MiB limit`,
        'file',
      );
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (error instanceof BadInputError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new BadInputError(`${what} ${file}: cannot read file (${code})`, 'file');
  }
  return parseYamlText(text, file, what);
}

export function parseYamlText(text: string, file: string, what: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const line = lineCounter.linePos(first.pos[0]).line;
    const reason = first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new BadInputError(`${file}${line ? `:${line}` : ''}: invalid YAML: ${reason}`);
  }
  let data: unknown;
  try {
    // The yaml package refuses documents whose aliases expand past maxAliasCount (a "billion
    // laughs" bomb); that is bad input, not an internal error.
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw new BadInputError(`${file}: invalid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (data === null || data === undefined) {
    throw new BadInputError(`${file}: ${what} is empty`);
  }
  return {
    file,
    data,
    lineOf(path) {
      for (let depth = path.length; depth >= 0; depth--) {
        const node = doc.getIn(path.slice(0, depth) as unknown[], true) as { range?: number[] } | undefined;
        const offset = node?.range?.[0];
        if (offset !== undefined) return lineCounter.linePos(offset).line;
      }
      return undefined;
    },
  };
}

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out || '(top level)';
}

export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint'
    ? String(value)
    : typeof value;
}

const isDefaultMessage = (message: string): boolean => /^Invalid|^Too (big|small)/.test(message);

/** One human sentence for a zod issue, without zod's generic wording where we can do better. */
export function issueMessage(issue: z.core.$ZodIssue): string {
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'invalid_type': {
      if (input === undefined) return `required (expected ${issue.expected})`;
      const expected = isDefaultMessage(issue.message) ? `expected ${issue.expected}` : issue.message;
      return `${expected}, got ${describeValue(input)}`;
    }
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    case 'invalid_union':
      if ((issue as { note?: string }).note === 'No matching discriminator') {
        // zod reports the whole object; the value that mattered is the discriminator itself.
        const key = issue.path[issue.path.length - 1];
        const value =
          input && typeof input === 'object' && key !== undefined
            ? (input as Record<PropertyKey, unknown>)[key]
            : input;
        return `${issue.message.replace(/^Invalid input: /, '')}, got ${describeValue(value)}`;
      }
      return issue.message;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(input)}`;
    default:
      return input === undefined || typeof input === 'object'
        ? issue.message
        : `${issue.message}, got ${describeValue(input)}`;
  }
}

export function validateSource<S extends z.ZodType>(source: YamlSource, schema: S): z.output<S> {
  const result = schema.safeParse(source.data, { reportInput: true });
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path;
    return { path: formatPath(path), message: issueMessage(issue), line: source.lineOf(path) };
  });
  throw problemsError(source.file, problems);
}

export function problemsError(file: string, problems: readonly SourceProblem[]): BadInputError {
  const lines = problems.map((p) => `${file}${p.line ? `:${p.line}` : ''} ${p.path}: ${p.message}`);
  const first = lines[0] ?? `${file}: invalid`;
  const more = lines.length > 1 ? ` (and ${lines.length - 1} more: ${lines.slice(1).join('; ')})` : '';
  return new BadInputError(`${first}${more}`, problems[0]?.path);
}
