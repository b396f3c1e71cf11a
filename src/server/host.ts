import { IpNet, iPv4FromIPv6, ipToString, isIPv4mappedIPv6 } from '@chainsafe/netmask'
import { multiaddr } from '@multiformats/multiaddr'
import { DEFAULT_HOST_SHARE, MIN_REGISTRATIONS_PER_HOST } from '../constants.ts'
import { InvalidOptionError } from '../errors.ts'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * How addresses are grouped into hosts
 */
export interface HostGrouping {
  /**
   * IPv4 addresses that share this many leading bits are one host
   */
  ipv4PrefixLength: number

  /**
   * IPv6 addresses that share this many leading bits are one host: a /64 is
   * what one subscriber or one machine usually gets
   */
  ipv6PrefixLength: number
}

const CODE_IP4 = 4
const CODE_IP6 = 41

/**
 * The host a connection comes from, as a key for per-host limits.
 *
 * - The first IP address in the connection's remote address, masked to the
 * grouping's prefix length: `ip4/192.0.2.0/24`, `ip6/2001:db8:1:2::/64`. An
 * IPv4 address mapped into IPv6 counts as the IPv4 address. Every transport
 * over IP (TCP, WebSockets, QUIC, WebTransport, WebRTC Direct) of one
 * machine therefore counts as one host.
 * - Through a circuit relay, that first address is the relay's: every peer
 * that reaches the point through one relay counts as that relay's host. The
 * point cannot see further, and a peer must not escape its own host's cap by
 * going through a relay. (Peers behind a relay the operator trusts are
 * exempted by allowing the relay's address.)
 * - A remote address with no IP (the memory transport) is its own host: its
 * relay's part for a circuit address, and without peer ids either way.
 */
export function hostOf (remoteAddr: Multiaddr, grouping: HostGrouping): string {
  const ip = firstIp(remoteAddr)?.ip

  if (ip == null) {
    return remoteAddr.toString().split('/p2p-circuit')[0].replace(/\/p2p\/[^/]+$/, '')
  }

  if (!isIPv6(ip)) {
    return `ip4/${new IpNet(ip, grouping.ipv4PrefixLength).toString()}`
  }

  const address = new IpNet(ip, 128).network

  if (isIPv4mappedIPv6(address)) {
    return `ip4/${new IpNet(ipToString(iPv4FromIPv6(address)), grouping.ipv4PrefixLength).toString()}`
  }

  return `ip6/${new IpNet(ip, grouping.ipv6PrefixLength).toString()}`
}

/**
 * Whether an address from an `/ip4` or `/ip6` component is IPv6: only those
 * hold colons
 */
function isIPv6 (ip: string): boolean {
  return ip.includes(':')
}

/**
 * The first IP address of a remote address, with the prefix length an
 * `/ipcidr` after it gives, if any
 */
function firstIp (ma: Multiaddr): { ip: string, cidr?: number } | undefined {
  const components = ma.getComponents()
  const index = components.findIndex(component => component.code === CODE_IP4 || component.code === CODE_IP6)

  if (index === -1 || components[index].value == null) {
    return undefined
  }

  const next = components[index + 1]

  return { ip: components[index].value, cidr: next?.name === 'ipcidr' && next.value != null ? Number(next.value) : undefined }
}

/**
 * Who counts as which host at a point, and whose registrations no host cap
 * counts
 */
export class HostRules {
  private readonly grouping: HostGrouping
  private readonly exempt: IpNet[]
  /**
   * The answer for each remote address seen: a connection keeps its
   * `remoteAddr`, so each of its REGISTERs parses no address again
   */
  private readonly hosts = new WeakMap<Multiaddr, string | null>()

  /**
   * @param grouping - how addresses are grouped into hosts
   * @param exempt - multiaddrs of addresses (`/ip4/10.0.0.5`) or ranges
   * (`/ip4/10.0.0.0/ipcidr/8`), checked already by `checkExemptHosts()`
   */
  constructor (grouping: HostGrouping, exempt: Multiaddr[]) {
    this.grouping = grouping
    this.exempt = exempt.map(ma => {
      const { ip, cidr } = firstIp(ma) ?? { ip: '' }
      return new IpNet(ip, cidr ?? (isIPv6(ip) ? 128 : 32))
    })
  }

  /**
   * The host a connection from `remoteAddr` counts against, or `undefined`
   * when it is exempt from the host cap
   */
  hostOf (remoteAddr: Multiaddr): string | undefined {
    let host = this.hosts.get(remoteAddr)

    if (host === undefined) {
      const first = firstIp(remoteAddr)
      host = first != null && this.exempt.some(net => net.contains(first.ip)) ? null : hostOf(remoteAddr, this.grouping)
      this.hosts.set(remoteAddr, host)
    }

    return host ?? undefined
  }
}

/**
 * The multiaddrs of `entries`, each an IP address optionally followed by
 * `/ipcidr/<prefix length>`, or `InvalidOptionError` naming `option`
 */
export function checkExemptHosts (option: string, entries: unknown): Multiaddr[] {
  if (!Array.isArray(entries)) {
    throw new InvalidOptionError(option, 'must be an array of multiaddrs')
  }

  return entries.map(entry => {
    let ma: Multiaddr

    try {
      ma = typeof entry === 'string' ? multiaddr(entry) : entry
      const first = firstIp(ma)

      if (first == null || !isMultiaddrStartingWithIp(ma)) {
        throw new Error('it does not start with /ip4 or /ip6')
      }

      // throws on a prefix length out of range
      void new IpNet(first.ip, first.cidr ?? (isIPv6(first.ip) ? 128 : 32))
    } catch (err: any) {
      throw new InvalidOptionError(option, `${String(entry)} is not an address or a range of addresses (e.g. /ip4/10.0.0.5 or /ip4/10.0.0.0/ipcidr/8): ${err.message}`)
    }

    return ma
  })
}

function isMultiaddrStartingWithIp (ma: Multiaddr): boolean {
  const code = ma.getComponents()[0]?.code
  return code === CODE_IP4 || code === CODE_IP6
}

/**
 * The per-host cap of a point holding `maxRegistrations`: one host may hold 1 %
 * of them, at least `MIN_REGISTRATIONS_PER_HOST` (or all of them, for a
 * point smaller than that)
 */
export function defaultMaxRegistrationsPerHost (maxRegistrations: number): number {
  return Math.min(maxRegistrations, Math.max(MIN_REGISTRATIONS_PER_HOST, Math.ceil(maxRegistrations * DEFAULT_HOST_SHARE)))
}
