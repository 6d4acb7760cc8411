/**
 * Files on a host: this machine's, or another's reached through a host runner (ssh, docker
 * exec). A config file that lives on a pooler's own host is read and replaced there, atomically
 * (a temp file beside it, renamed over it), with its mode and owner kept, as it is locally.
 */
import { createHash } from 'node:crypto';
import {
  chownSync,
  constants,
  existsSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
  type Stats,
} from 'node:fs';
import { access } from 'node:fs/promises';
import { dirname } from 'node:path';
import { describeFailure } from './exec.js';
import type { HostRunner } from './host.js';

export interface HostFiles {
  /** "here", or "via <prefix>", for messages. */
  readonly where: string;
  read(path: string): Promise<string>;
  exists(path: string): Promise<boolean>;
  /**
   * Writes `text` to a temp file beside `path` (same mode and owner) and renames it over `path`.
   * With `readAs`, only if the file still holds exactly that text (else a FileChangedError).
   */
  replace(path: string, text: string, readAs?: string): Promise<void>;
  /** Why `path` could not be replaced so (it, if it exists, or its directory not writable), if it cannot. */
  replaceProblem(path: string): Promise<string | undefined>;
}

export class FileError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** The file changed since it was read: read it again. */
export class FileChangedError extends FileError {}

/**
 * Synchronous on purpose: the repoint reads and replaces a config file while clients wait, and
 * each asynchronous call is a hop through libuv's thread pool and back (a repoint's seven took 4-6
 * ms on a busy two-core machine; the same calls made synchronously take well under one). A small
 * config file's read, write and rename block the event loop for microseconds.
 */
export const localFiles: HostFiles = {
  where: 'here',
  read: async (path) => readFileSync(path, 'utf8'),
  exists: async (path) => existsSync(path),
  async replace(path, text, readAs) {
    if (readAs !== undefined && readFileSync(path, 'utf8') !== readAs)
      throw new FileChangedError(`${path} changed since it was read`);
    // A file that does not exist yet (a state file written for the first time) is created 0600.
    let info: Stats | undefined;
    try {
      info = statSync(path);
    } catch (error) {
      if (!((error as NodeJS.ErrnoException).code === 'ENOENT' && readAs === undefined)) throw error;
    }
    const temp = `${path}.pg-handover-${process.pid}.tmp`;
    writeFileSync(temp, text, { mode: info ? info.mode & 0o777 : 0o600 });
    if (info) {
      try {
        chownSync(temp, info.uid, info.gid);
      } catch {
        // Not the owner's to give (not root): the file keeps this process's owner, as before.
      }
    }
    renameSync(temp, path);
  },
  async replaceProblem(path) {
    for (const each of existsSync(path) ? [path, dirname(path)] : [dirname(path)]) {
      try {
        await access(each, constants.W_OK);
      } catch (error) {
        return `${each} is not writable (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
      }
    }
    return undefined;
  },
};

/** The same temp-and-rename, in one round trip on the far side (the repoint runs while clients wait). */
const REPLACE =
  'if [ -n "$2" ] && [ "$(sha256sum < "$1" | cut -c1-64)" != "$2" ]; then exit 3; fi; t="$1.pg-handover-$$.tmp"; cat > "$t" && chmod --reference="$1" "$t" && { chown --reference="$1" "$t" 2>/dev/null || true; } && mv -f "$t" "$1" || { rm -f "$t"; exit 1; }';
const WRITABLE = 'for p in "$1" "$(dirname "$1")"; do [ -w "$p" ] || { echo "$p"; exit 1; }; done';

export function remoteFiles(runner: HostRunner, via: string): HostFiles {
  return {
    where: via,
    // `cat` drops nothing, but the runner strips one final newline: put it back.
    read: async (path) => {
      const result = await runner.run(['sh', '-c', 'cat "$1" && echo .', 'sh', path], { timeoutMs: 15_000 });
      if (!result.ok)
        throw new FileError(
          describeFailure(`reading ${path} ${via}`, result),
          /No such file/.test(result.stderr) ? 'ENOENT' : undefined,
        );
      return result.stdout.replace(/\.$/, '');
    },
    exists: async (path) => (await runner.run(['test', '-e', path], { timeoutMs: 15_000 })).ok,
    replace: async (path, text, readAs) => {
      const expected = readAs === undefined ? '' : createHash('sha256').update(readAs).digest('hex');
      const result = await runner.run(['sh', '-c', REPLACE, 'sh', path, expected], { timeoutMs: 15_000, input: text });
      if (result.exitCode === 3) throw new FileChangedError(`${path} changed since it was read ${via}`);
      if (!result.ok) throw new FileError(describeFailure(`replacing ${path} ${via}`, result));
    },
    replaceProblem: async (path) => {
      const result = await runner.run(['sh', '-c', WRITABLE, 'sh', path], { timeoutMs: 15_000 });
      if (result.ok) return undefined;
      return result.exitCode === 1 && result.stdout.trim()
        ? `${result.stdout.trim()} is not writable ${via}`
        : describeFailure(`checking ${path} ${via}`, result);
    },
  };
}
