const utf8 = new TextEncoder()

/**
 * Whether a namespace is longer than `maxBytes` UTF-8 bytes
 */
export function isNamespaceTooLong (namespace: string, maxBytes: number): boolean {
  // a UTF-16 code unit takes one to three bytes of UTF-8, so the length
  // settles most cases without encoding
  if (namespace.length > maxBytes) {
    return true
  }

  if (namespace.length * 3 <= maxBytes) {
    return false
  }

  return utf8.encode(namespace).byteLength > maxBytes
}

/**
 * Whether `namespace` is one a peer can register in: 1 to `maxBytes` UTF-8
 * bytes
 */
export function isValidNamespace (namespace: unknown, maxBytes: number): namespace is string {
  return typeof namespace === 'string' && namespace !== '' && !isNamespaceTooLong(namespace, maxBytes)
}
