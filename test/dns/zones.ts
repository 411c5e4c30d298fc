/** Hand-written BIND zone files for the tests, and a zone built from one. */
import { applyPatch } from '../../workers/dns/records'
import { Zone } from '../../workers/dns/zone'
import { parseZoneFile } from '../../workers/dns/zonefile'

/** A typical small zone: $TTL, relative names, parentheses, comments, a wildcard, a delegation with glue. */
export const EXAMPLE_ZONE = `; example.com, written by hand
$TTL 1h
$ORIGIN example.com.
@   IN  SOA ns1 hostmaster (
            2024010101 ; serial
            7200       ; refresh
            3600       ; retry
            1209600    ; expire
            300 )      ; negative TTL
    IN  NS  ns1
    IN  NS  ns2.example.net.
    IN  MX  10 mail
    IN  TXT "v=spf1 mx -all"
ns1     IN  A     192.0.2.53
mail    600 IN A  192.0.2.25
www     IN  A     192.0.2.80
        IN  AAAA  2001:db8::80
alias   IN  CNAME www
chain   IN  CNAME alias
loop1   IN  CNAME loop2
loop2   IN  CNAME loop1
out     IN  CNAME www.example.org.
*.apps  IN  A     192.0.2.100
a.b.c   IN  TXT   "deep"           ; b.c and c.example.com are empty non-terminals
_sip._tcp IN SRV  10 60 5060 sip
sip     IN  A     192.0.2.60
@       IN  CAA   0 issue "letsencrypt.org"
svc     IN  HTTPS 1 . alpn="h2,h3" port=443
4.2.0   IN  PTR   www
child   IN  NS    ns.child
ns.child IN A     192.0.2.54
`

/** Another style: explicit TTLs before the class, no $ORIGIN (the zone's name), owners carried over. */
export const SECOND_ZONE = `$TTL 300
@ 3600 IN SOA a.ns.second.test. admin.second.test. 7 3600 600 86400 60
@ 3600 IN NS a.ns.second.test.
a.ns 300 IN A 198.51.100.1
host IN A 198.51.100.10
 IN A 198.51.100.11
 IN TXT "two" "strings" "with \\"escapes\\""
mx IN MX 0 .
`

/** A third: $ORIGIN changes midway, a TTL with units and a generic (RFC 3597) record. */
export const THIRD_ZONE = `$ORIGIN third.test.
$TTL 2h30m
@ SOA ns hostmaster 1 7200 3600 1209600 3600
@ NS ns
ns A 203.0.113.1
$ORIGIN sub.third.test.
deep A 203.0.113.2
private TYPE65400 \\# 3 ABCDEF
`

export function zoneFrom(text: string, origin: string): Zone {
  const rrsets = applyPatch(new Map(), origin, parseZoneFile(text, origin))
  return new Zone(origin, rrsets.values())
}
