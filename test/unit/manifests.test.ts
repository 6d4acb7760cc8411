/**
 * The Kubernetes and Argo recipes (examples/kubernetes/, examples/argo/) validated against the
 * API schemas (kubernetes-models, @kubernetes-models/argo-workflows), with the fields a wave
 * depends on: no retry by the orchestrator, no two runs at once, a bounded wave that stops at
 * the first failure; and the ConfigMap's inventory is one pg-handover loads.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { CronJob, Job } from 'kubernetes-models/batch/v1';
import { ConfigMap, Secret } from 'kubernetes-models/v1';
import { Workflow } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1';
import { buildInventory } from '../../src/inventory/load.js';
import { parseYamlText } from '../../src/util/yaml-source.js';

type Doc = Record<string, any>;
const docs = (file: string): Doc[] => parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as Doc);
const MODELS: Record<string, new (data: any) => { validate(): void }> = { ConfigMap, Secret, Job, CronJob, Workflow };
const validate = (doc: Doc) => new MODELS[doc.kind as string]!(doc).validate();

describe('Kubernetes and Argo recipes', () => {
  const job = docs('examples/kubernetes/job.yaml');
  const cron = docs('examples/kubernetes/cronjob.yaml');
  const argo = docs('examples/argo/wave.yaml');

  it('every manifest validates against its API schema', () => {
    for (const doc of [...job, ...cron, ...argo])
      expect(() => validate(doc), `${doc.kind} ${doc.metadata?.name ?? doc.metadata?.generateName}`).not.toThrow();
    expect([...job, ...cron, ...argo].map((d) => d.kind)).toEqual([
      'ConfigMap',
      'Secret',
      'Job',
      'CronJob',
      'Workflow',
    ]);
  });

  it('a manifest with a wrong field is refused (the validator is real)', () => {
    const broken = { ...job[2]!, spec: { ...job[2]!.spec, backoffLimit: 'zero' } };
    expect(() => validate(broken)).toThrow(/backoffLimit must be integer/);
  });

  it('the orchestrators never retry a run, never run two at once, and the wave stops at the first failure', () => {
    expect(job[2]!.spec.backoffLimit).toBe(0);
    expect(job[2]!.spec.template.spec.restartPolicy).toBe('Never');
    expect(cron[0]!.spec.concurrencyPolicy).toBe('Forbid');
    expect(cron[0]!.spec.jobTemplate.spec.backoffLimit).toBe(0);
    expect(argo[0]!.spec.parallelism).toBeGreaterThan(0);
    expect(argo[0]!.spec.templates[0].dag.failFast).toBe(true);
    expect(argo[0]!.spec.templates[1].retryStrategy.limit).toBe('0');
    // The passfile from a Secret, read-only for the owner; the inventory names it, never a password.
    for (const doc of [job[2]!, cron[0]!.spec.jobTemplate, argo[0]!.spec.templates[1]]) {
      const volumes = (doc.spec?.template?.spec ?? doc).volumes as Doc[];
      expect(volumes.find((v) => v.secret)?.secret.defaultMode).toBe(0o400);
    }
  });

  it("the ConfigMap's inventory is one pg-handover loads", async () => {
    // As mounted: the Secret's pgpass where the inventory's passfile says.
    const dir = mkdtempSync(join(tmpdir(), 'pgh-k8s-'));
    writeFileSync(join(dir, 'pgpass'), job[1]!.stringData.pgpass, { mode: 0o600 });
    const text = (job[0]!.data['inventory.yaml'] as string).replace(
      '/etc/pg-handover/secret/pgpass',
      join(dir, 'pgpass'),
    );
    const inventory = await buildInventory(parseYamlText(text, 'configmap/inventory.yaml', 'inventory'), {});
    expect(inventory.nodes.map((n) => n.name)).toEqual(['db1', 'db2']);
    expect(job[0]!.data['inventory.yaml']).not.toMatch(/password=/);
  });
});
