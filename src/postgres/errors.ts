/** A node's query errors, named and redacted: pure, so steps can tell them apart without loading pg. */
import { HandoverError } from '../errors.js';
import { redact } from '../util/secrets.js';

export class NodeQueryError extends HandoverError {
  constructor(
    readonly node: string,
    message: string,
    readonly pgCode?: string,
  ) {
    super(redact(`${node}: ${message}`));
  }
}

export function messageOf(error: unknown): string {
  if (error instanceof Error) {
    const pgError = error as Error & { detail?: string; hint?: string; code?: string };
    const parts = [pgError.message || pgError.code || 'error'];
    if (pgError.detail) parts.push(`detail: ${pgError.detail}`);
    if (pgError.hint) parts.push(`hint: ${pgError.hint}`);
    return redact(parts.join('; '));
  }
  return redact(String(error));
}
