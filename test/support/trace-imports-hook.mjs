// The resolve hook of trace-imports.mjs (module hooks run off the main thread).
let names = [];

export function initialize(data) {
  names = data.names;
}

export async function resolve(specifier, context, next) {
  if (names.includes(specifier)) process.stderr.write(`imported ${specifier}\n`);
  return next(specifier, context);
}
