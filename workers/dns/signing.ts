/**
 * Signing an authoritative answer on its way out (DO bit set, zone signed): every RRset in
 * the answer and authority sections gets its RRSIG, and denial uses compact NSEC records
 * (see dnssec.ts): NXDOMAIN becomes NOERROR with an NSEC listing NXNAME (RFC 9824), NODATA
 * an NSEC listing the types that do exist, an unsigned delegation an NSEC proving no DS.
 * The NS RRset of a referral stays unsigned (the child is authoritative for it).
 */
import { type Answer, lookup, negativeSoa, toRecords } from './answer'
import { compactNsec, TYPE_NXNAME, type ZoneSigner } from './dnssec'
import type { Question } from './wire/message'
import { RCODE, TYPE } from './wire/types'
import type { Zone } from './zone'

export async function signAnswer(
  zone: Zone,
  signer: ZoneSigner,
  _question: Question,
  answer: Answer,
  nowSeconds: number,
): Promise<Answer> {
  const negativeTtl = negativeSoa(zone).ttl
  const answers = await signer.signSection(answer.answers, nowSeconds)
  let rcode = answer.rcode
  let authorities = answer.authorities
  if (answer.kind === 'referral') {
    const cut = (answer.authorities[0] as { name: string }).name
    const ds = zone.get(cut, TYPE.DS)
    const proof = ds ? toRecords(ds, cut) : [compactNsec(cut, [TYPE.NS], negativeTtl)]
    authorities = [...answer.authorities, ...(await signer.signSection(proof, nowSeconds))]
  } else if (answer.kind === 'nxdomain') {
    rcode = RCODE.NOERROR
    const nsec = compactNsec(answer.finalName, [TYPE_NXNAME], negativeTtl)
    authorities = await signer.signSection([...answer.authorities, nsec], nowSeconds)
  } else if (answer.kind === 'nodata') {
    const types = (lookup(zone, answer.finalName) ?? []).map((set) => set.type)
    const nsec = compactNsec(answer.finalName, types, negativeTtl)
    authorities = await signer.signSection([...answer.authorities, nsec], nowSeconds)
  } else {
    authorities = await signer.signSection(answer.authorities, nowSeconds)
  }
  return { ...answer, rcode, answers, authorities }
}
