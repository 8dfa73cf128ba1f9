// The hooks of trace-imports.mjs (module hooks run off the main thread).
let names = [];
let patterns = [];

export function initialize(data) {
  names = data.names.filter((n) => !n.startsWith("/"));
  // "/regex/": matched against the URL of each module loaded, after every resolve hook (a job's
  // import of the engine that the CLI redirects to its prebuilt bundle loads nothing new)
  patterns = data.names.filter((n) => n.startsWith("/")).map((n) => new RegExp(n.slice(1, -1)));
}

export async function resolve(specifier, context, next) {
  if (names.includes(specifier)) process.stderr.write(`imported ${specifier}\n`);
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (patterns.some((p) => p.test(url))) process.stderr.write(`loaded ${url}\n`);
  return next(url, context);
}
