// A module-resolution hook that names every module loaded, on stderr (test/integration/bundle.test.ts).
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  process.stderr.write(`LOADED ${resolved.url}\n`);
  return resolved;
}
