/** @type {import('aegir').PartialOptions} */
export default {
  build: {
    bundle: false
  },
  test: {
    timeout: 30_000
  }
}
