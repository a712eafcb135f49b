/** Freezes an object graph in place (plain objects and arrays) and returns it. */
export function freezeDeep<T>(value: T): T {
  const stack: unknown[] = [value];
  // Iterative: a config with 10^5 users must not recurse that deep.
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null || Object.isFrozen(v)) continue;
    Object.freeze(v);
    for (const k of Object.keys(v)) stack.push((v as Record<string, unknown>)[k]);
  }
  return value;
}
