/** The built code (`npm run build`, which `npm test` runs first): what loads, and when. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

/** Every module Node loads when `file` (under dist/) is imported, and nothing else is run. */
async function loadedBy(file: string): Promise<string[]> {
  const result = await execa(
    'node',
    [
      '--import',
      './test/integration/support/load-register.mjs',
      '--input-type=module',
      '-e',
      `await import('./${file}')`,
    ],
    { reject: false },
  );
  expect(result.exitCode, result.stderr).toBe(0);
  return result.stderr
    .split('\n')
    .filter((l) => l.startsWith('LOADED '))
    .map((l) => l.slice('LOADED '.length));
}

/** What deciding and planning must never load: a driver, a socket, a process runner, a router's implementation. */
const EFFECTS =
  /node_modules\/(pg|execa|testcontainers)\/|^node:(net|dns|child_process|tls)|dist\/(postgres\/session|postgres\/writable|routers\/app-login|routers\/[a-z]+\/router|shell\/runtime-socket|shell\/host|cluster\/)/;

describe('pure at run time', () => {
  for (const file of [
    'dist/procedures/switchover/decide.js',
    'dist/procedures/failover/decide.js',
    'dist/procedures/rolling-restart/decide.js',
    'dist/procedures/upgrade-major/decide.js',
    'dist/procedures/rejoin/decide.js',
    'dist/playbook/schema.js',
  ]) {
    it(`loading ${file} loads no driver, socket, process runner or router implementation`, async () => {
      const loaded = await loadedBy(file);
      expect(loaded.length).toBeGreaterThan(3); // the hook saw the loads
      expect(loaded.filter((url) => EFFECTS.test(url.replace(/^file:\/\/.*?(?=dist\/|node_modules\/)/, '')))).toEqual(
        [],
      );
    });
  }
});

describe('start-up of the CLI bundle', () => {
  it('imports testcontainers (half a second to load) only on demand, never at start-up', () => {
    const bundle = readFileSync('dist/pg-handover.cjs', 'utf8'); // built by `npm test` / `npm run build` first
    expect(bundle.split('\n').filter((line) => /^\S.*require\("testcontainers"\)/.test(line))).toEqual([]);
    expect(bundle).toMatch(/\n\s+.*require\("testcontainers"\)/); // inside the function that needs it
  });

  it("starts from V8's code cache, which this node accepts, and runs a command as the compiled files do", async () => {
    const env = { ...process.env, PG_HANDOVER_CODE_CACHE_REPORT: '1' };
    const bundled = await execa('node', ['bin/pg-handover.js', 'playbook', 'validate', 'playbooks/switchover.yaml'], {
      reject: false,
      env,
    });
    expect(bundled.stderr).toContain('code cache: used');
    const files = await execa('node', ['dist/cli/main.js', 'playbook', 'validate', 'playbooks/switchover.yaml'], {
      reject: false,
    });
    expect(bundled.exitCode).toBe(files.exitCode);
    expect(bundled.stdout).toBe(files.stdout);
  });
});

describe('start-up of a command that talks to PostgreSQL', () => {
  it("never loads node's fetch stack (undici): pg's Cloudflare probe did, about 40 ms of every start", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgh-undici-'));
    try {
      // Nothing listens on these ports: the driver is loaded and each connection is refused.
      writeFileSync(
        join(dir, 'inventory.yaml'),
        'nodes:\n  - name: a\n    dsn: host=127.0.0.1 port=1 user=x dbname=postgres\n  - name: b\n    dsn: host=127.0.0.1 port=2 user=x dbname=postgres\npoolers:\n  - name: p\n    admin_dsn: host=127.0.0.1 port=3 user=a dbname=pgbouncer\n    config_file: /x\n    databases: [d]\n',
      );
      const probe = join(dir, 'loaded.cjs');
      writeFileSync(
        probe,
        "process.on('exit', () => process.stderr.write(`INTERNAL ${process.moduleLoadList.filter((m) => /undici|pg/.test(m)).join(' ')}\\n`));",
      );
      const check = await execa(
        'node',
        ['-r', probe, 'bin/pg-handover.js', 'check', '-i', join(dir, 'inventory.yaml')],
        {
          reject: false,
        },
      );
      expect(check.stdout).toMatch(/NOT READY/); // it ran, and asked the servers
      const loaded = check.stderr.split('\n').find((l) => l.startsWith('INTERNAL')) ?? '';
      expect(loaded).toBeTruthy();
      expect(loaded).not.toMatch(/undici/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('--help and --version', () => {
  it("print the build's texts, which are exactly what the CLI itself prints, and load none of the CLI", async () => {
    for (const [flag, file] of [
      ['--help', 'dist/help.txt'],
      ['-h', 'dist/help.txt'],
      ['--version', 'dist/version.txt'],
    ] as const) {
      const live = await execa('node', ['dist/cli/main.js', flag], { reject: false, stripFinalNewline: false });
      expect(live.exitCode).toBe(0);
      expect(readFileSync(file, 'utf8'), `${file} is stale: npm run build`).toBe(live.stdout);
      const fast = await execa(
        'node',
        ['--import', './test/integration/support/load-register.mjs', 'bin/pg-handover.js', flag],
        { reject: false, stripFinalNewline: false },
      );
      expect(fast.exitCode).toBe(0);
      expect(fast.stdout).toBe(live.stdout);
      expect(fast.stderr.split('\n').filter((l) => l.startsWith('LOADED ') && l.includes('dist/'))).toEqual([]);
    }
  });
});
