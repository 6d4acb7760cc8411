/** The failover's own lines in the report: how the old primary was fenced, and what may be lost. */
import { describeLoss } from '../../model/incident.js';
import type { ReportSection } from '../../runner/report.js';
import type { Outputs } from '../../steps/outputs.js';
import type { PlanContext } from '../../steps/types.js';

export function failoverReport(context: PlanContext, outputs: Outputs): ReportSection {
  const { incident } = context;
  if (!incident) return {};
  const fenceRan = context.fenceMethod === 'fence-command' && outputs['fence-writes'].startedAt !== undefined;
  const how = fenceRan
    ? 'its fence_command ran'
    : 'poolers only: it may still accept direct connections if it comes back';
  return {
    oldPrimaryState: `fenced (${incident.silence === 'timeout' ? 'hung' : 'down'}; ${how})`,
    possibleLoss: describeLoss(incident.loss),
  };
}
