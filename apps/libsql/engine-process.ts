// Entry point of the engine process: runs an Engine and answers the HTTP process over the IPC channel.
//
// Guarantees:
// - Every request message gets exactly one reply with the same id (ok with a value, or an error);
//   replies with id 0 are heartbeats, sent while the event loop is free.
// - When the parent goes away (exit, kill -9, closed channel) this process closes its connections and
//   exits, so no orphan keeps database files open.
// - A native abort inside the engine (the libsql binding aborts on some values, e.g. TEXT holding
//   invalid UTF-8) kills only this process; the parent reports it and starts a new one.

import { Engine } from './engine.ts'
import type { EngineReply, EngineRequest } from './engine-client.ts'
import { toHranaError } from './errors.ts'

let engine: Engine | undefined

function reply(message: EngineReply): void {
  if (process.connected) process.send?.(message)
}

async function handle(message: EngineRequest): Promise<void> {
  try {
    switch (message.op) {
      case 'init':
        engine = new Engine(message.config)
        // heartbeats tell the supervisor this thread is free; a runaway statement stops them
        if (message.heartbeatMs > 0)
          setInterval(() => reply({ id: 0, ok: true, value: null }), message.heartbeatMs).unref()
        reply({ id: message.id, ok: true, value: engine.sqliteVersion() })
        return
      case 'run':
        reply({
          id: message.id,
          ok: true,
          value: await requireEngine().run(
            message.stream,
            message.namespace,
            message.isNew,
            message.requests,
          ),
        })
        return
      case 'cursor':
        reply({
          id: message.id,
          ok: true,
          value: await requireEngine().cursor(
            message.stream,
            message.namespace,
            message.isNew,
            message.batch,
          ),
        })
        return
      case 'close':
        requireEngine().close(message.stream)
        reply({ id: message.id, ok: true, value: null })
        return
      case 'shutdown':
        engine?.shutdown()
        reply({ id: message.id, ok: true, value: null })
        process.disconnect()
        return
    }
  } catch (error) {
    reply({ id: message.id, ok: false, error: toHranaError(error) })
  }
}

function requireEngine(): Engine {
  if (engine === undefined) throw new Error('the engine is not initialised')
  return engine
}

process.on('message', (message) => void handle(message as EngineRequest))
process.on('disconnect', () => {
  engine?.shutdown()
  process.exit(0)
})
