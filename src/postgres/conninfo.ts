/** primary_conninfo for a node that should stream from another. Pure. */
import { formatDsn, parseConninfo } from '../inventory/dsn.js';
import type { HostPort } from '../inventory/model.js';

/**
 * Keeps everything of the node's existing conninfo (user, passfile, TLS settings) and changes
 * only where it connects; so credentials never pass through the tool.
 */
export function conninfoTowards(existing: string, upstream: HostPort, applicationName?: string): string {
  const params: Record<string, string> = { ...parseConninfo(existing) };
  delete params.hostaddr;
  params.host = upstream.host;
  params.port = String(upstream.port);
  if (applicationName) params.application_name = applicationName;
  return formatDsn(params);
}

/** A conninfo for display: parsed, so that a quoted or escaped password is masked whole. */
export function maskConninfo(conninfo: string): string {
  let params: Record<string, string>;
  try {
    params = { ...parseConninfo(conninfo) };
  } catch {
    return '<conninfo that could not be parsed>';
  }
  if (params.password !== undefined) params.password = '***';
  return formatDsn(params);
}

/** A slot name Postgres accepts, derived from a node name. */
export const slotNameFor = (node: string): string =>
  node
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 63);
