/**
 * A view of `target` whose `property` is `value`. Every other property is the
 * target's own, its methods bound to the target, so they run on it and what
 * they call of it is its own, not the view's.
 */
export function withProperty <T extends object, K extends keyof T> (target: T, property: K, value: T[K]): T {
  return new Proxy(target, {
    get (target, key) {
      if (key === property) {
        return value
      }

      const own = Reflect.get(target, key, target)
      return typeof own === 'function' ? own.bind(target) : own
    }
  })
}
