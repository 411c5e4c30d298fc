/**
 * OTLP's JSON mapping of `AnyValue` (shared by the logs and metrics receivers): a value as
 * plain JSON data. Integers arrive as strings or numbers and become numbers; bytes stay
 * base64 text; arrays and key-value lists nest.
 */

export type OtlpJsonAnyValue = {
  stringValue?: string
  boolValue?: boolean
  intValue?: string | number
  doubleValue?: number | string
  bytesValue?: string
  arrayValue?: { values?: OtlpJsonAnyValue[] }
  kvlistValue?: { values?: OtlpJsonKeyValue[] }
}

export type OtlpJsonKeyValue = { key: string; value?: OtlpJsonAnyValue }

export type OtlpPlainValue =
  | string
  | number
  | boolean
  | null
  | OtlpPlainValue[]
  | { [key: string]: OtlpPlainValue }

export function otlpJsonValue(value: OtlpJsonAnyValue | undefined): OtlpPlainValue {
  if (!value) return null
  if (value.stringValue !== undefined) return value.stringValue
  if (value.boolValue !== undefined) return value.boolValue
  if (value.intValue !== undefined) return Number(value.intValue)
  if (value.doubleValue !== undefined) return Number(value.doubleValue)
  if (value.bytesValue !== undefined) return value.bytesValue
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(otlpJsonValue)
  if (value.kvlistValue)
    return Object.fromEntries((value.kvlistValue.values ?? []).map((kv) => [kv.key, otlpJsonValue(kv.value)]))
  return null
}
