package volumes

import "testing"

func TestParseOwnerTakesNumericUIDAndGIDOnly(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"988:988", true},
		{"1000:1000", true},
		{"0:0", true},
		{"4294967294:1", true},
		{"988", false},
		{"988:", false},
		{":988", false},
		{"container:container", false},
		{"-1:988", false},
		{"988:988:988", false},
		{" 988:988", false},
		{"4294967295:988", false},
		{"4294967296:988", false},
		{"", false},
	} {
		if _, err := ParseOwner(tc.in); (err == nil) != tc.ok {
			t.Errorf("ParseOwner(%q) = %v, want ok %v", tc.in, err, tc.ok)
		}
	}
}
