/**
 * Fault injection with real signals and SQL, and the invariants every fault case must keep:
 * at most one writer with the pooler pointing at it (or paused, and said so); no acknowledged
 * commit lost; the exit code and last lines saying the state; a second run completing or refusing.
 */
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { readFileSync, existsSync, readdirSync } from 'node:fs';
import { sleep } from '../../../src/util/time.js';
import type { SandboxFixture } from './fixtures.js';
import { observe, topology } from './cluster.js';

const BIN = fileURLToPath(new URL('../../../bin/pg-handover.js', import.meta.url));

export const DEFAULT_STEPS = [
  '- kind: preflight',
  '- kind: checkpoint',
  '- kind: fence-writes',
  '- kind: wait-catchup',
  '- kind: promote',
  '- kind: repoint-pooler',
  '- kind: resume',
  '- kind: follow',
  '- kind: demote-old-primary',
  '- kind: verify',
];

/** The default steps with extra YAML lines inserted after the step of `afterKind`. */
export async function playbookWith(
  sandbox: SandboxFixture,
  name: string,
  afterKind: string,
  insert: string[],
  overrides: Record<string, string> = {},
): Promise<string> {
  const steps = DEFAULT_STEPS.flatMap((line) => {
    const kind = line.replace('- kind: ', '');
    const own = overrides[kind] ? [line, ...overrides[kind].split('\n').map((l) => `  ${l}`)] : [line];
    return kind === afterKind ? [...own, ...insert] : own;
  });
  const file = join(sandbox.dir, `${name}.yaml`);
  await writeFile(file, `name: ${name}\nsteps:\n${steps.map((l) => `  ${l}`).join('\n')}\n`);
  return file;
}

export const execStep = (...words: Array<string | number>): string[] => [
  '- kind: exec',
  `  command: [${words.map((w) => JSON.stringify(String(w))).join(', ')}]`,
];

export const pauseHere = (seconds = 4): string[] => execStep('sleep', seconds);

export const journalDir = (sandbox: SandboxFixture): string => join(sandbox.dir, 'runs');

/** Starts `promote` as a child we can signal; resolves with its exit code and output. */
export function startPromote(sandbox: SandboxFixture, ...args: string[]): ResultPromise {
  return execa(
    'node',
    [
      BIN,
      'promote',
      '--inventory',
      sandbox.manifest.inventoryFile,
      '--yes',
      '--journal-dir',
      journalDir(sandbox),
      ...args,
    ],
    {
      reject: false,
      stdin: 'ignore',
      // Under the test's own 120 s: a run that hangs is killed and its output shown, not lost to the test's timeout.
      timeout: 90_000,
    },
  );
}

/** Waits until the run's journal shows `event` for a step of `kind` (the injection point). */
export async function waitForJournal(
  sandbox: SandboxFixture,
  predicate: (event: Record<string, unknown>) => boolean,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const dir = journalDir(sandbox);
  while (Date.now() < deadline) {
    if (existsSync(dir)) {
      // Journals only (the directory also keeps the last sight of the primary), and a line still being written is skipped.
      for (const file of readdirSync(dir).filter((f) => f.endsWith('.jsonl'))) {
        const events = readFileSync(join(dir, file), 'utf8')
          .split('\n')
          .filter(Boolean)
          .flatMap((l) => {
            try {
              return [JSON.parse(l) as Record<string, unknown>];
            } catch {
              return [];
            }
          });
        if (events.some(predicate) && !events.some((e) => e.event === 'report')) return;
      }
    }
    await sleep(20);
  }
  throw new Error('journal never showed the awaited event');
}

/** Runs promote (to pg2) with `playbook`, sends `signalName` when its injected exec step starts, and waits for it. */
export async function signalAtInjectedStep(
  sandbox: SandboxFixture,
  playbook: string,
  signalName: NodeJS.Signals,
  alsoThen?: () => void,
): Promise<Awaited<ResultPromise>> {
  const child = startPromote(sandbox, '--playbook', playbook, '--target', 'pg2');
  await waitForJournal(sandbox, stepStarted('-exec'));
  alsoThen?.();
  child.kill(signalName);
  return child;
}

export const stepStarted = (suffix: string) => (e: Record<string, unknown>) =>
  e.event === 'step-start' && String(e.step).endsWith(suffix);

/** Invariant 1: at most one node accepts writes, and the pooler points at it or is paused. */
export async function expectOneWriter(
  sandbox: SandboxFixture,
  options: { allowPaused?: boolean } = {},
): Promise<string | undefined> {
  const t = topology(await observe(sandbox));
  const writers = t.primaries.filter((p) => !t.readOnly.includes(p));
  expect(writers.length, `writers: ${writers.join(', ')}`).toBeLessThanOrEqual(1);
  if (writers.length === 1 && !(options.allowPaused && t.poolerPaused)) {
    expect(t.poolerPointsAt).toBe(writers[0]);
    expect(t.poolerPaused).toBe(false);
  }
  return writers[0];
}

/** Invariant 3: the last lines name the outcome and exit code. */
export function expectLastLinesSay(stderr: string, headline: RegExp, exitCode: number): void {
  const tail = stderr.trim().split('\n').slice(-40).join('\n');
  expect(tail).toMatch(headline);
  expect(tail).toContain(`(exit ${exitCode})`);
}

/** Every event of every journal of this sandbox's runs, oldest file first. */
export function journalEvents(sandbox: SandboxFixture): Array<Record<string, unknown>> {
  const dir = journalDir(sandbox);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .flatMap((file) =>
      readFileSync(join(dir, file), 'utf8')
        .split('\n')
        .filter(Boolean)
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as Record<string, unknown>];
          } catch {
            return [];
          }
        }),
    );
}

/** The report of the newest run that wrote one. */
export function reportInJournal(sandbox: SandboxFixture): Record<string, any> | undefined {
  return journalEvents(sandbox)
    .filter((e) => e.event === 'report')
    .map((e) => e.report as Record<string, any>)
    .at(-1);
}

/** The guardian of the newest run (its pid, from the journal). */
export function guardianPid(sandbox: SandboxFixture): number | undefined {
  const started = journalEvents(sandbox)
    .filter((e) => e.event === 'guardian-started')
    .at(-1);
  return started ? Number(started.pid) : undefined;
}

/**
 * A TCP proxy in front of a pooler's admin console that, once `armedFile` exists, cuts any
 * connection the moment its client speaks, and no longer passes on the pooler's own death: the
 * tool's held console then learns that PgBouncer died only as it sends its next statement (the
 * race CI met: PgBouncer killed a moment before the repoint's RELOAD).
 */
export async function consoleCutter(
  port: number,
  armedFile: string,
): Promise<{ port: number; cut: () => boolean; close: () => Promise<void> }> {
  let cut = false;
  const sockets = new Set<net.Socket>();
  const armed = () => existsSync(armedFile);
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.on('data', (chunk) => {
      if (!armed()) return void upstream.write(chunk);
      cut = true;
      client.destroy();
      upstream.destroy();
    });
    upstream.on('data', (chunk) => client.write(chunk));
    upstream.on('close', () => armed() || client.destroy());
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut: () => cut,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
