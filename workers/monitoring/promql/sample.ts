/** An instant-vector element: one series' labels and its value at the evaluation time. */
import type { Labels } from '../series'

export interface Sample {
  labels: Labels
  value: number
}
