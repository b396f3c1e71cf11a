import { IpNet, iPv4FromIPv6, ipToString, isIPv4mappedIPv6 } from '@chainsafe/netmask'
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
 * - A remote address with no IP (the memory transport) is its own host.
 */
export function hostOf (remoteAddr: Multiaddr, grouping: HostGrouping): string {
  const ip = remoteAddr.getComponents().find(component => component.code === CODE_IP4 || component.code === CODE_IP6)

  if (ip?.value == null) {
    return remoteAddr.toString()
  }

  if (ip.code === CODE_IP4) {
    return `ip4/${new IpNet(ip.value, grouping.ipv4PrefixLength).toString()}`
  }

  const address = new IpNet(ip.value, 128).network

  if (isIPv4mappedIPv6(address)) {
    return `ip4/${new IpNet(ipToString(iPv4FromIPv6(address)), grouping.ipv4PrefixLength).toString()}`
  }

  return `ip6/${new IpNet(ip.value, grouping.ipv6PrefixLength).toString()}`
}
