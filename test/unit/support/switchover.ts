/** The switchover procedure's pure parts, called the way the run path calls them. */
import type { ClusterState } from '../../../src/model/cluster-state.js';
import { buildPlaybook as build } from '../../../src/playbook/load.js';
import { buildPlan } from '../../../src/playbook/plan.js';
import type { Playbook } from '../../../src/playbook/schema.js';
import { switchover } from '../../../src/procedures/switchover/index.js';
import { routerChecks } from '../../../src/routers/registry.js';
import type { PlanContext } from '../../../src/steps/types.js';
import type { YamlSource } from '../../../src/util/yaml-source.js';

export const buildPlaybook = (source: YamlSource, nodeNames?: readonly string[]): Playbook =>
  build(source, switchover.rules, nodeNames);
export const decide = (state: ClusterState, playbook: Playbook, target?: string) =>
  switchover.decide(state, playbook, { target, routerChecks });
export const planOf = (playbook: Playbook, context: PlanContext) =>
  buildPlan(playbook.name, 'switchover', playbook.steps, context);
