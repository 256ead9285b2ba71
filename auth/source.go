package auth

import (
	"net"
	"net/netip"
)

// SourceOf names the network source of a request for the bounds on
// waiting confirmations, from an HTTP RemoteAddr ("host:port"). An IPv4
// address is its own source; an IPv6 address counts as its /64, because a
// single subscriber is usually given a whole /64 and could otherwise
// spread a flood over 2^64 addresses. Anything unparsable is used as is.
func SourceOf(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return remoteAddr
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		return addr.String()
	}
	prefix, err := addr.Prefix(64)
	if err != nil {
		return addr.String()
	}
	return prefix.String()
}
