/**
 * DNS messages (RFC 1035 §4.1) with EDNS(0) (RFC 6891): decode and encode.
 *
 * `decodeMessage` accepts any byte string and either returns a message or throws
 * `WireError` (the caller answers FORMERR); RDATA of known types is decompressed, any
 * other type stays opaque (RFC 3597). `encodeMessage` compresses owner and question names
 * and, given a size limit, drops additional records that do not fit and, when answer or
 * authority records do not fit, sends only the header and question with TC set
 * (RFC 2181 §9). The OPT record is always kept. Costs: one pass over the bytes each way.
 */
import { Reader, WireError, Writer } from './bytes'
import { readRdata } from './rdata'
import { CLASS_IN, TYPE } from './types'

export interface Question {
  name: string
  type: number
  class: number
}

export interface ResourceRecord {
  name: string
  type: number
  class: number
  /** Seconds. */
  ttl: number
  /** RDATA with names uncompressed. */
  data: Uint8Array
}

export interface EdnsOption {
  code: number
  data: Uint8Array
}

export interface Edns {
  /** The sender's UDP payload size. */
  udpSize: number
  version: number
  /** The DO bit: the sender wants DNSSEC records. */
  dnssecOk: boolean
  options: EdnsOption[]
}

export interface Message {
  id: number
  /** true in responses. */
  qr: boolean
  opcode: number
  aa: boolean
  tc: boolean
  rd: boolean
  ra: boolean
  ad: boolean
  cd: boolean
  /** The full 12-bit response code (the upper 8 bits travel in the OPT record). */
  rcode: number
  questions: Question[]
  answers: ResourceRecord[]
  authorities: ResourceRecord[]
  /** Additional records other than OPT. */
  additionals: ResourceRecord[]
  edns?: Edns
}

export function emptyMessage(id = 0): Message {
  return {
    id,
    qr: false,
    opcode: 0,
    aa: false,
    tc: false,
    rd: false,
    ra: false,
    ad: false,
    cd: false,
    rcode: 0,
    questions: [],
    answers: [],
    authorities: [],
    additionals: [],
  }
}

/** At most this many records per section: more is FORMERR (a bound on work per query). */
const MAX_RECORDS_PER_SECTION = 4096

export function decodeMessage(bytes: Uint8Array): Message {
  const r = new Reader(bytes)
  const message = emptyMessage(r.u16())
  const flags = r.u16()
  message.qr = (flags & 0x8000) !== 0
  message.opcode = (flags >> 11) & 0xf
  message.aa = (flags & 0x0400) !== 0
  message.tc = (flags & 0x0200) !== 0
  message.rd = (flags & 0x0100) !== 0
  message.ra = (flags & 0x0080) !== 0
  message.ad = (flags & 0x0020) !== 0
  message.cd = (flags & 0x0010) !== 0
  message.rcode = flags & 0xf
  const counts = [r.u16(), r.u16(), r.u16(), r.u16()] as const
  if (counts.some((count) => count > MAX_RECORDS_PER_SECTION)) throw new WireError('Too many records')
  for (let i = 0; i < counts[0]; i++)
    message.questions.push({ name: r.name(), type: r.u16(), class: r.u16() })
  const sections = [message.answers, message.authorities, message.additionals]
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < (counts[s + 1] as number); i++) {
      const name = r.name()
      const type = r.u16()
      const klass = r.u16()
      const ttl = r.u32()
      const length = r.u16()
      if (type === TYPE.OPT) {
        if (s !== 2 || message.edns || name !== '') throw new WireError('Misplaced or repeated OPT record')
        message.rcode |= (ttl >>> 24) << 4
        message.edns = {
          udpSize: klass,
          version: (ttl >>> 16) & 0xff,
          dnssecOk: (ttl & 0x8000) !== 0,
          options: readOptions(new Reader(r.take(length))),
        }
        continue
      }
      const data = readRdata(r, type, length)
      sections[s]?.push({ name, type, class: klass, ttl: ttl > 0x7fffffff ? 0 : ttl, data })
    }
  }
  if (r.remaining !== 0) throw new WireError('Trailing bytes after the last record')
  return message
}

function readOptions(r: Reader): EdnsOption[] {
  const options: EdnsOption[] = []
  while (r.remaining > 0) options.push({ code: r.u16(), data: r.take(r.u16()) })
  return options
}

function writeRecord(w: Writer, record: ResourceRecord): void {
  w.name(record.name)
  w.u16(record.type)
  w.u16(record.class)
  w.u32(record.ttl)
  w.u16(record.data.length)
  w.bytes(record.data)
}

function writeOpt(w: Writer, edns: Edns, rcode: number): void {
  w.u8(0)
  w.u16(TYPE.OPT)
  w.u16(edns.udpSize)
  w.u32(((rcode >> 4) & 0xff) * 0x1000000 + (edns.version << 16) + (edns.dnssecOk ? 0x8000 : 0))
  const body = new Writer()
  for (const option of edns.options) {
    body.u16(option.code)
    body.u16(option.data.length)
    body.bytes(option.data)
  }
  const data = body.finish()
  w.u16(data.length)
  w.bytes(data)
}

/** The message's bytes, at most `maxSize` long (see the file comment for what is dropped). */
export function encodeMessage(message: Message, maxSize = 65535): Uint8Array {
  const optSize = message.edns ? 11 + message.edns.options.reduce((sum, o) => sum + 4 + o.data.length, 0) : 0
  const limit = Math.max(maxSize, 12) - optSize
  const w = new Writer()
  w.u16(message.id)
  w.u16(0) // flags, patched below
  for (let i = 0; i < 4; i++) w.u16(0)
  for (const question of message.questions) {
    w.name(question.name)
    w.u16(question.type)
    w.u16(question.class)
  }
  const afterQuestions = w.length
  let truncated = message.tc
  const counts = [message.questions.length, 0, 0, 0]
  const main = [message.answers, message.authorities]
  for (let s = 0; s < 2 && !truncated; s++) {
    for (const record of main[s] as ResourceRecord[]) {
      writeRecord(w, record)
      if (w.length > limit) {
        truncated = true
        break
      }
      counts[s + 1] = (counts[s + 1] as number) + 1
    }
  }
  if (truncated) {
    w.truncate(afterQuestions)
    counts[1] = 0
    counts[2] = 0
  } else {
    for (const record of message.additionals) {
      const before = w.length
      writeRecord(w, record)
      if (w.length > limit) {
        w.truncate(before)
        break
      }
      counts[3] = (counts[3] as number) + 1
    }
  }
  if (message.edns) {
    writeOpt(w, message.edns, message.rcode)
    counts[3] = (counts[3] as number) + 1
  }
  const flags =
    (message.qr ? 0x8000 : 0) |
    ((message.opcode & 0xf) << 11) |
    (message.aa ? 0x0400 : 0) |
    (truncated ? 0x0200 : 0) |
    (message.rd ? 0x0100 : 0) |
    (message.ra ? 0x0080 : 0) |
    (message.ad ? 0x0020 : 0) |
    (message.cd ? 0x0010 : 0) |
    (message.rcode & 0xf)
  w.patchU16(2, flags)
  for (const [i, count] of counts.entries()) w.patchU16(4 + i * 2, count)
  return w.finish()
}

/** A question of class IN. */
export function question(name: string, type: number): Question {
  return { name, type, class: CLASS_IN }
}
