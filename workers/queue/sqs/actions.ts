/**
 * The one action layer of the SQS wire: every action takes the JSON protocol's input shape
 * (the AWS JSON 1.0 member names) and returns its output shape. The JSON codec (entry.ts)
 * and the query codec (query.ts) only translate to and from these shapes.
 */
import type { SqsContext } from './context'
import { MESSAGE_ACTIONS } from './messages'
import { MOVE_TASK_ACTIONS } from './move-tasks'
import { QUEUE_ACTIONS } from './queues'
import { receiveMessage } from './receive'

export type SqsAction = (c: SqsContext, input: Record<string, unknown>) => Promise<unknown>

export const ACTIONS: Record<string, SqsAction> = {
  ...QUEUE_ACTIONS,
  ...MESSAGE_ACTIONS,
  ...MOVE_TASK_ACTIONS,
  ReceiveMessage: receiveMessage,
}

export function actionNamed(name: string): SqsAction | undefined {
  return Object.hasOwn(ACTIONS, name) ? ACTIONS[name] : undefined
}
