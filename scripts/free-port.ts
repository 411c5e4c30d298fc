/**
 * A free TCP port on 127.0.0.1 for a server that another process will start.
 *
 * The port is taken from below the kernel's ephemeral range: a port the kernel hands out for
 * `listen(0)` comes from the same range as the source ports of outgoing connections, so any
 * connection made between choosing the port and the server binding it could take it
 * (EADDRINUSE). Ports below that range are only ever taken by servers that ask for them.
 * Guarantees: the port was free when checked, and this process never hands out a port twice.
 */
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

const handedOut = new Set<number>()

/** The lowest port of the kernel's ephemeral range (32768 where it cannot be read). */
function ephemeralRangeStart(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)
    const port = Number(low)
    return Number.isInteger(port) && port > 2048 ? port : 32768
  } catch {
    return 32768
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolveCheck) => {
    const server = createServer()
    server.once('error', () => resolveCheck(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolveCheck(true)))
  })
}

export async function freePort(): Promise<number> {
  const high = ephemeralRangeStart()
  const low = Math.max(1024, high - 16384)
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low))
    if (handedOut.has(port) || !(await canListen(port))) continue
    handedOut.add(port)
    return port
  }
  throw new Error(`no free port found between ${low} and ${high}`)
}
