const utf8 = new TextEncoder()

/**
 * Whether a namespace is longer than `maxBytes` UTF-8 bytes
 */
export function isNamespaceTooLong (namespace: string, maxBytes: number): boolean {
  // UTF-8 never takes fewer bytes than UTF-16 code units, so the cheap check
  // settles most cases before any encoding
  return namespace.length > maxBytes || utf8.encode(namespace).byteLength > maxBytes
}

/**
 * Whether `namespace` is one a peer can register in: 1 to `maxBytes` UTF-8
 * bytes
 */
export function isValidNamespace (namespace: unknown, maxBytes: number): namespace is string {
  return typeof namespace === 'string' && namespace !== '' && !isNamespaceTooLong(namespace, maxBytes)
}
