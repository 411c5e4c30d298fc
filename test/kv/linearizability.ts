/**
 * A linearizability checker for histories of a read/write register, after Wing & Gong and
 * Lowe ("Testing for linearizability", 2017) as Porcupine implements it: walk the history's
 * call/return events in real-time order, try to linearize each pending call at its current
 * point, backtrack on a return whose call could not be placed, and memoize (set of
 * linearized operations, register state) pairs so no configuration is explored twice.
 *
 * An operation whose outcome the client never learned (a write that timed out or failed)
 * has `ret = Infinity`: it may take effect at any point after its call, or never.
 * Keys are independent registers, so a history is checked per key (P-compositionality).
 */

export type RegisterInput = { kind: 'write'; value: string } | { kind: 'read' }

export interface Operation {
  key: string
  client: number
  /** Logical times of invocation and response; `ret = Infinity` when unknown. */
  call: number
  ret: number
  input: RegisterInput
  /** What a read returned (null = absent; anything else not a single value fails). */
  output?: string | null
}

interface Entry {
  kind: 'call' | 'return'
  time: number
  op: number
  prev: Entry | undefined
  next: Entry | undefined
  match?: Entry
}

function buildList(ops: Operation[]): Entry {
  const events: Entry[] = []
  ops.forEach((op, index) => {
    const call: Entry = { kind: 'call', time: op.call, op: index, prev: undefined, next: undefined }
    const ret: Entry = { kind: 'return', time: op.ret, op: index, prev: undefined, next: undefined }
    call.match = ret
    events.push(call, ret)
  })
  // Calls sort before returns at equal times (the more permissive reading of a tie).
  events.sort((a, b) => a.time - b.time || (a.kind === b.kind ? 0 : a.kind === 'call' ? -1 : 1))
  const head: Entry = { kind: 'call', time: -1, op: -1, prev: undefined, next: undefined }
  let last = head
  for (const event of events) {
    last.next = event
    event.prev = last
    last = event
  }
  return head
}

function lift(entry: Entry): void {
  const ret = entry.match as Entry
  ;(entry.prev as Entry).next = entry.next
  if (entry.next) entry.next.prev = entry.prev
  ;(ret.prev as Entry).next = ret.next
  if (ret.next) ret.next.prev = ret.prev
}

function unlift(entry: Entry): void {
  const ret = entry.match as Entry
  ;(ret.prev as Entry).next = ret
  if (ret.next) ret.next.prev = ret
  ;(entry.prev as Entry).next = entry
  if (entry.next) entry.next.prev = entry
}

function step(state: string | null, op: Operation): { ok: boolean; state: string | null } {
  if (op.input.kind === 'write') return { ok: true, state: op.input.value }
  return { ok: op.output === state, state }
}

/** True when the operations on one register have a linearization. */
export function linearizableRegister(ops: Operation[], initial: string | null = null): boolean {
  const head = buildList(ops)
  const linearized = new Array<boolean>(ops.length).fill(false)
  const cache = new Set<string>()
  const stack: Array<{ entry: Entry; state: string | null }> = []
  let state = initial
  let entry = head.next
  while (head.next !== undefined) {
    if (entry === undefined) return false
    if (entry.kind === 'call') {
      const op = ops[entry.op] as Operation
      const result = step(state, op)
      if (result.ok) {
        linearized[entry.op] = true
        const key = `${linearized.map((b) => (b ? 1 : 0)).join('')}|${JSON.stringify(result.state)}`
        if (!cache.has(key)) {
          cache.add(key)
          stack.push({ entry, state })
          state = result.state
          lift(entry)
          entry = head.next
          continue
        }
        linearized[entry.op] = false
      }
      entry = entry.next
    } else {
      const top = stack.pop()
      if (!top) return false
      state = top.state
      linearized[top.entry.op] = false
      unlift(top.entry)
      entry = top.entry.next
    }
  }
  return true
}

/** Checks every key's sub-history; returns the keys that have no linearization. */
export function nonLinearizableKeys(ops: Operation[]): string[] {
  const byKey = new Map<string, Operation[]>()
  for (const op of ops) byKey.set(op.key, [...(byKey.get(op.key) ?? []), op])
  return [...byKey].filter(([, list]) => !linearizableRegister(list)).map(([key]) => key)
}
