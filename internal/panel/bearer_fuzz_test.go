package panel

import (
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/secret"
)

// FuzzParseBearer feeds arbitrary Authorization headers to parseBearer: it
// never panics, finds only Bearer headers, and what it accepts is a
// well-formed personal access token that parses again to itself.
func FuzzParseBearer(f *testing.F) {
	good := secret.NewToken(tokenPrefix)
	for _, seed := range []string{
		"", "Bearer", "Bearer ", "Bearer " + good, "bearer " + good, "BEARER  " + good + "  ", "Basic dXNlcjpwYXNz",
		"Bearer berth_pat_", "Bearer berth_pat_short", "Bearer " + good + "x", "Bearer " + good[:len(good)-1] + "=",
		"Bearer " + good + " extra", "Bearer " + secret.NewToken("berth_"), "Bearer\t" + good, "Token " + good,
		"Bearer " + strings.Replace(good, "_", "é", 2),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		token, found, err := parseBearer(header)
		scheme, _, _ := strings.Cut(strings.TrimSpace(header), " ")
		if found != strings.EqualFold(scheme, "Bearer") {
			t.Fatalf("%q: found = %v for scheme %q", header, found, scheme)
		}
		if err != nil || !found {
			if token != "" {
				t.Fatalf("%q: refused (%v) but returned token %q", header, err, token)
			}
			return
		}
		if !strings.HasPrefix(token, tokenPrefix) || len(token) != tokenLen || strings.ContainsAny(token, " \t=+/") {
			t.Fatalf("%q: accepted malformed token %q", header, token)
		}
		if again, found, err := parseBearer("Bearer " + token); again != token || !found || err != nil {
			t.Fatalf("%q: the accepted token %q does not parse again: %q %v %v", header, token, again, found, err)
		}
	})
}
