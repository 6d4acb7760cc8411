export async function promoteCommand(..._args: unknown[]): Promise<void> { throw new Error('not yet'); }
