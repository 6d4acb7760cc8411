export async function demoCommand(..._args: unknown[]): Promise<void> { throw new Error('not yet'); }
