/**
 * Most entries in one chunk of a `SequenceIndex`
 */
const CHUNK_SIZE = 256

export interface Sequenced {
  sequence: number
}

/**
 * Entries ordered by an increasing sequence number, where new entries always
 * carry the largest sequence so far.
 *
 * A chunked sorted array: appending is O(1), removing an entry is
 * O(log n + CHUNK_SIZE), and listing the entries after a sequence is
 * O(log n + the entries listed). Empty chunks are dropped, so a scan never
 * walks a run of removed entries.
 */
export class SequenceIndex<T extends Sequenced> {
  private readonly chunks: T[][] = []
  private _size = 0

  get size (): number {
    return this._size
  }

  /**
   * Adds an entry whose sequence is larger than every sequence in the index
   */
  append (entry: T): void {
    const last = this.chunks[this.chunks.length - 1]

    if (last != null && last.length > 0 && last[last.length - 1].sequence >= entry.sequence) {
      throw new RangeError('Sequence must increase')
    }

    if (last == null || last.length >= CHUNK_SIZE) {
      this.chunks.push([entry])
    } else {
      last.push(entry)
    }

    this._size++
  }

  /**
   * Removes the entry with the sequence of `entry`, if present
   */
  remove (entry: T): boolean {
    const chunkIndex = this.chunkIndexFor(entry.sequence)

    if (chunkIndex === -1) {
      return false
    }

    const chunk = this.chunks[chunkIndex]
    const index = indexOfSequence(chunk, entry.sequence)

    if (index === chunk.length || chunk[index].sequence !== entry.sequence) {
      return false
    }

    chunk.splice(index, 1)
    this._size--

    if (chunk.length === 0) {
      this.chunks.splice(chunkIndex, 1)
    }

    return true
  }

  /**
   * Yields the entries whose sequence is larger than `sequence`, in order.
   * The index must not change while the generator is consumed.
   */
  * after (sequence: number): Generator<T> {
    let chunkIndex = Math.max(0, this.chunkIndexFor(sequence + 1))
    let index = chunkIndex < this.chunks.length ? indexOfSequence(this.chunks[chunkIndex], sequence + 1) : 0

    for (; chunkIndex < this.chunks.length; chunkIndex++, index = 0) {
      const chunk = this.chunks[chunkIndex]

      for (; index < chunk.length; index++) {
        yield chunk[index]
      }
    }
  }

  /**
   * The index of the chunk that holds, or would hold, `sequence`: the last
   * chunk whose first sequence is <= `sequence`, or -1 when there is none
   */
  private chunkIndexFor (sequence: number): number {
    let low = 0
    let high = this.chunks.length - 1
    let found = -1

    while (low <= high) {
      const mid = (low + high) >>> 1

      if (this.chunks[mid][0].sequence <= sequence) {
        found = mid
        low = mid + 1
      } else {
        high = mid - 1
      }
    }

    return found
  }
}

/**
 * The index of the first entry of a sorted chunk with a sequence >= `sequence`
 */
function indexOfSequence (chunk: Sequenced[], sequence: number): number {
  let low = 0
  let high = chunk.length

  while (low < high) {
    const mid = (low + high) >>> 1

    if (chunk[mid].sequence < sequence) {
      low = mid + 1
    } else {
      high = mid
    }
  }

  return low
}
