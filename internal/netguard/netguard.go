// Package netguard decides whether an address belongs to the public
// internet, so that the node never lets a template or an image reference
// steer it at itself, its network or a cloud's metadata service. Every
// special-purpose range of the IANA IPv4 and IPv6 registries is listed as a
// net/netip prefix, and addresses that embed an IPv4 address are judged by
// the address they embed.
package netguard

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"
)

// ErrNotPublic reports an address that is not a public unicast address.
var ErrNotPublic = errors.New("not a public address")

// blocked are the special-purpose ranges that never reach the public
// internet, or reach something other than what they seem to.
var blocked = []netip.Prefix{
	// IPv4 (RFC 6890 and the IANA IPv4 special-purpose registry).
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("10.0.0.0/8"),      // private
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("127.0.0.0/8"),     // loopback
	netip.MustParsePrefix("169.254.0.0/16"),  // link-local, cloud metadata
	netip.MustParsePrefix("172.16.0.0/12"),   // private
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast
	netip.MustParsePrefix("192.168.0.0/16"),  // private
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("224.0.0.0/4"),     // multicast
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast

	// IPv6 (RFC 6890 and the IANA IPv6 special-purpose registry). The
	// ranges that embed an IPv4 address are in embedded below instead.
	netip.MustParsePrefix("::/128"),         // unspecified
	netip.MustParsePrefix("::1/128"),        // loopback
	netip.MustParsePrefix("100::/64"),       // discard-only
	netip.MustParsePrefix("2001::/23"),      // IETF protocol assignments, Teredo
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("fc00::/7"),       // unique local
	netip.MustParsePrefix("fe80::/10"),      // link-local
	netip.MustParsePrefix("fec0::/10"),      // site-local, deprecated
	netip.MustParsePrefix("ff00::/8"),       // multicast
}

// embedded are the IPv6 ranges that carry an IPv4 address, with the
// offset of its four bytes. Such an address reaches whatever its IPv4
// address reaches (the kernel routes ::ffff:127.0.0.1 to loopback, and the
// deprecated IPv4-compatible ::127.0.0.1 slipped past the old guard), so it
// is as public as that address and no more.
var embedded = []struct {
	prefix netip.Prefix
	offset int
}{
	{netip.MustParsePrefix("::ffff:0:0/96"), 12}, // IPv4-mapped
	{netip.MustParsePrefix("::/96"), 12},         // IPv4-compatible, deprecated
	{netip.MustParsePrefix("64:ff9b::/96"), 12},  // NAT64 (RFC 6052)
	{netip.MustParsePrefix("2002::/16"), 2},      // 6to4
}

// IsPublic reports whether ip is a unicast address of the public internet.
// Unspecified, zone-scoped and invalid addresses are not.
func IsPublic(ip netip.Addr) bool {
	return Check(ip) == nil
}

// Check explains why ip is not public, wrapping ErrNotPublic, or returns
// nil when it is.
func Check(ip netip.Addr) error {
	switch {
	case !ip.IsValid():
		return fmt.Errorf("%w: invalid address", ErrNotPublic)
	case ip.Zone() != "":
		return fmt.Errorf("%w: %s is scoped to an interface", ErrNotPublic, ip)
	case ip.IsUnspecified():
		return fmt.Errorf("%w: %s is unspecified", ErrNotPublic, ip)
	}
	// Blocked ranges first: ::1 and :: sit inside the IPv4-compatible
	// range but are named ranges of their own.
	for _, p := range blocked {
		if p.Contains(ip) {
			return fmt.Errorf("%w: %s is in special-purpose range %s", ErrNotPublic, ip, p)
		}
	}
	for _, e := range embedded {
		if e.prefix.Contains(ip) {
			b := ip.As16()
			v4 := netip.AddrFrom4([4]byte(b[e.offset : e.offset+4]))
			if err := Check(v4); err != nil {
				return fmt.Errorf("%s embeds %s: %w", ip, v4, err)
			}
			return nil
		}
	}
	return nil
}

// DialControl is a net.Dialer Control function that refuses, at connect
// time and so after every DNS answer and redirect, any address that is not
// public, unless allowPrivate. refused is wrapped by its errors, so that
// the caller can tell a refusal from a network failure; allowHint names
// what lets the operator allow it (a flag or variable).
func DialControl(allowPrivate bool, refused error, allowHint string) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		if allowPrivate {
			return nil
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: cannot read address %q", refused, address)
		}
		if err := Check(ap.Addr()); err != nil {
			return fmt.Errorf("%w: %w (the node operator may allow it with %s)", refused, err, allowHint)
		}
		return nil
	}
}
