// Module resolution hook (runs on Node's loader thread, after tsx's resolution): an import of one
// of the bundled engine's entry modules from a job resolves to the bundle's copy, which the CLI has
// already loaded, so that job code and the CLI share one engine (its classes, its registries).
/** @type {Record<string, string>} source URL -> bundle URL */
let redirects = {};

export function initialize(data) {
  redirects = data.redirects;
}

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  const to = redirects[resolved.url];
  return to === undefined ? resolved : { url: to, format: "module", shortCircuit: true };
}
