export async function validateCommand(..._args: unknown[]): Promise<void> { throw new Error('not yet'); }
