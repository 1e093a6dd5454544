package netguard

import (
	"errors"
	"net/netip"
	"testing"
)

func TestIsPublicRefusesEverySpecialPurposeRange(t *testing.T) {
	// Each range of the IANA registries with addresses at its edges and
	// inside; the comment names the range.
	for _, s := range []string{
		"0.0.0.0", "0.1.2.3", "0.255.255.255", // 0/8
		"10.0.0.0", "10.1.2.3", "10.255.255.255", // 10/8
		"100.64.0.0", "100.100.100.100", "100.127.255.255", // 100.64/10
		"127.0.0.1", "127.255.255.254", // 127/8
		"169.254.0.1", "169.254.169.254", "169.254.255.255", // 169.254/16
		"172.16.0.1", "172.17.0.1", "172.31.255.255", // 172.16/12
		"192.0.0.1", "192.0.0.255", // 192.0.0/24
		"192.0.2.1", "192.0.2.255", // 192.0.2/24
		"192.88.99.1",                    // 192.88.99/24
		"192.168.0.1", "192.168.255.255", // 192.168/16
		"198.18.0.1", "198.19.255.255", // 198.18/15
		"198.51.100.7",                 // 198.51.100/24
		"203.0.113.9",                  // 203.0.113/24
		"224.0.0.1", "239.255.255.255", // 224/4
		"240.0.0.1", "255.255.255.255", // 240/4
		"::",                                 // ::/128
		"::1",                                // ::1/128
		"::ffff:127.0.0.1",                   // IPv4-mapped loopback
		"::ffff:169.254.169.254",             // IPv4-mapped metadata
		"::ffff:10.0.0.1",                    // IPv4-mapped private
		"::127.0.0.1",                        // IPv4-compatible loopback: the attack run's bypass
		"::169.254.169.254",                  // IPv4-compatible metadata
		"::10.0.0.1",                         // IPv4-compatible private
		"::0.0.0.2",                          // IPv4-compatible "this network"
		"64:ff9b::127.0.0.1",                 // NAT64 of loopback
		"64:ff9b::a9fe:a9fe",                 // NAT64 of 169.254.169.254
		"64:ff9b:1::1",                       // local-use NAT64, 64:ff9b:1::/48
		"64:ff9b:1:ffff::8.8.8.8",            // local-use NAT64, even of a public address
		"100::1", "100::ffff:ffff:ffff:ffff", // 100::/64
		"2001::1", "2001:1ff:ffff::1", // 2001::/23 (Teredo and IETF assignments)
		"2001:db8::1", "2001:db8:ffff::1", // 2001:db8::/32
		"2002:7f00:1::1",                     // 6to4 of 127.0.0.1
		"2002:a9fe:a9fe::",                   // 6to4 of 169.254.169.254
		"2002:c0a8:101::1",                   // 6to4 of 192.168.1.1
		"fc00::1", "fd00::2", "fdff:ffff::1", // fc00::/7
		"fe80::1", "febf::1", // fe80::/10
		"fec0::1", "feff::1", // fec0::/10
		"ff02::1", "ff0e::1", // ff00::/8
	} {
		ip := netip.MustParseAddr(s)
		if IsPublic(ip) {
			t.Errorf("IsPublic(%s) = true, want false", s)
		}
		if err := Check(ip); !errors.Is(err, ErrNotPublic) {
			t.Errorf("Check(%s) = %v, want ErrNotPublic", s, err)
		}
	}
}

func TestIsPublicAcceptsPublicAddresses(t *testing.T) {
	for _, s := range []string{
		"1.1.1.1", "8.8.8.8", "9.255.255.255", "11.0.0.0",
		"100.63.255.255", "100.128.0.0", // either side of 100.64/10
		"126.255.255.255", "128.0.0.0", // either side of 127/8
		"169.253.255.255", "169.255.0.0", // either side of 169.254/16
		"172.15.255.255", "172.32.0.0", // either side of 172.16/12
		"192.0.1.1", "192.0.3.1", "192.88.98.1", "192.88.100.1",
		"192.167.255.255", "192.169.0.0", "198.17.255.255", "198.20.0.0",
		"198.51.99.1", "198.51.101.1", "203.0.112.1", "203.0.114.1",
		"223.255.255.255",
		"::ffff:8.8.8.8",           // IPv4-mapped public
		"::8.8.8.8",                // IPv4-compatible public
		"64:ff9b::8.8.8.8",         // NAT64 of a public address
		"2002:808:808::1",          // 6to4 of 8.8.8.8
		"2001:200::1",              // just past 2001::/23
		"2001:4860:4860::8888",     // a public resolver
		"2606:4700:4700::1111",     // another
		"2a00:1450:4001:80b::200e", // and another
	} {
		ip := netip.MustParseAddr(s)
		if !IsPublic(ip) {
			t.Errorf("IsPublic(%s) = false (%v), want true", s, Check(ip))
		}
	}
}

func TestIsPublicRefusesInvalidAndScopedAddresses(t *testing.T) {
	for _, ip := range []netip.Addr{
		{},
		netip.MustParseAddr("2606:4700:4700::1111%eth0"),
		netip.MustParseAddr("fe80::1%eth0"),
		netip.IPv4Unspecified(),
		netip.IPv6Unspecified(),
	} {
		if IsPublic(ip) {
			t.Errorf("IsPublic(%v) = true, want false", ip)
		}
	}
}

func TestDialControlRefusesNonPublicAddressesUnlessAllowed(t *testing.T) {
	refused := errors.New("refused")
	guard := DialControl(false, refused, "SOME_FLAG")
	for _, addr := range []string{"127.0.0.1:443", "[::127.0.0.1]:443", "[::ffff:169.254.169.254]:80",
		"[fe80::1%eth0]:443", "not an address"} {
		if err := guard("tcp", addr, nil); !errors.Is(err, refused) {
			t.Errorf("dial %s: %v, want refused", addr, err)
		}
	}
	if err := guard("tcp", "8.8.8.8:443", nil); err != nil {
		t.Errorf("dial 8.8.8.8:443: %v, want allowed", err)
	}
	if err := guard("tcp", "[2606:4700:4700::1111]:443", nil); err != nil {
		t.Errorf("dial [2606:4700:4700::1111]:443: %v, want allowed", err)
	}
	allow := DialControl(true, refused, "SOME_FLAG")
	if err := allow("tcp", "127.0.0.1:443", nil); err != nil {
		t.Errorf("allowed dial 127.0.0.1:443: %v, want nil", err)
	}
}
