package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/store"
)

func TestParseEventsNamesTheFieldAndKeepsTheOrder(t *testing.T) {
	for _, c := range []struct {
		in      []string
		want    []string
		wantErr string
	}{
		{in: []string{"node.online", "instance.started", "node.online"}, want: []string{"instance.started", "node.online"}},
		{in: store.WebhookEvents, want: store.WebhookEvents},
		{in: nil, wantErr: "events: must list at least one of instance.started"},
		{in: []string{"instance.started", "instance.deleted"}, wantErr: `events: "instance.deleted" is not an event; the events are instance.started`},
		{in: []string{"Instance.Started"}, wantErr: "is not an event"},
	} {
		got, err := ParseEvents("events", c.in)
		if c.wantErr != "" {
			if !fault.Is(err, fault.Invalid) || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseEvents(%q) error %v; want one containing %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("ParseEvents(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestCheckURLRefusesPrivateLiteralsUnlessAllowed(t *testing.T) {
	long := "https://example.com/" + strings.Repeat("a", MaxURLLength)
	for _, c := range []struct {
		url     string
		private string // the error without allowPrivate; "" for none
		always  string // the error even with allowPrivate; "" for none
	}{
		{url: "https://example.com/hooks/1"},
		{url: "http://93.184.216.34:8080/x"},
		{url: "https://hooks.internal.example/x"}, // a name: judged at dial time
		{url: "http://127.0.0.1:9000/", private: "127.0.0.1 is in special-purpose range 127.0.0.0/8"},
		{url: "http://10.1.2.3/", private: "not a public address"},
		{url: "http://169.254.169.254/latest/meta-data", private: "169.254.0.0/16"},
		{url: "http://[::1]:8080/", private: "::1"},
		{url: "http://[::ffff:192.168.1.1]/", private: "embeds 192.168.1.1"},
		{url: "http://0.0.0.0/", private: "unspecified"},
		{url: "ftp://example.com/", always: "must be an http:// or https:// URL with a host"},
		{url: "https:///path", always: "with a host"},
		{url: "example.com/hook", always: "with a host"},
		{url: "mailto:a@example.com", always: "with a host"},
		{url: "https://user:pw@example.com/", always: "must not carry a user name or password"},
		{url: long, always: "must be at most 2048 bytes"},
	} {
		for _, allow := range []bool{false, true} {
			want := c.always
			if want == "" && !allow {
				want = c.private
			}
			err := CheckURL("url", c.url, allow)
			if want == "" {
				if err != nil {
					t.Errorf("CheckURL(%q, allow %v) = %v; want nil", c.url, allow, err)
				}
				continue
			}
			if !fault.Is(err, fault.Invalid) || !strings.HasPrefix(err.Error(), "url: ") || !strings.Contains(err.Error(), want) {
				t.Errorf("CheckURL(%q, allow %v) = %v; want an invalid url containing %q", c.url, allow, err, want)
			}
			if c.private != "" && !allow && !strings.Contains(err.Error(), "-allow-private-webhooks") {
				t.Errorf("CheckURL(%q) = %v; want it to name -allow-private-webhooks", c.url, err)
			}
		}
	}
}

func TestCheckFormat(t *testing.T) {
	for in, want := range map[string]string{"": "json", "json": "json", "discord": "discord", "slack": "", "JSON": ""} {
		got, err := CheckFormat("format", in)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("CheckFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "format: ") {
			t.Errorf("CheckFormat(%q) error %q does not name the field", in, err)
		}
	}
}

// TestSignIsHMACOfTimestampDotBody checks the signature against a
// computation of its own, as a receiver in any language would make it.
func TestSignIsHMACOfTimestampDotBody(t *testing.T) {
	body := []byte(`{"event":"node.online"}`)
	at := time.Unix(1700000000, 0)
	mac := hmac.New(sha256.New, []byte("whsec_key"))
	mac.Write([]byte("1700000000." + string(body)))
	want := "t=1700000000,v1=" + hex.EncodeToString(mac.Sum(nil))
	if got := Sign("whsec_key", at, body); got != want {
		t.Errorf("Sign = %q; want %q", got, want)
	}
	if Sign("other", at, body) == want || Sign("whsec_key", at.Add(time.Second), body) == want {
		t.Error("the signature does not depend on the secret and the time")
	}
}

func TestDiscordBodyIsReadableTextAndAnEmbed(t *testing.T) {
	stored := `{"event":"instance.crashed","instance":"i1","node":"n1","at":"2026-01-02T03:04:05Z",` +
		`"data":{"name":"survival","exitCode":137,"oomKilled":true,"error":"` + strings.Repeat("é", 700) + `"}}`
	raw, err := Body(FormatDiscord, stored)
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Content string `json:"content"`
		Embeds  []struct {
			Title       string `json:"title"`
			Description string `json:"description"`
			Timestamp   string `json:"timestamp"`
			Fields      []struct {
				Name  string `json:"name"`
				Value string `json:"value"`
			} `json:"fields"`
		} `json:"embeds"`
	}
	if err := json.Unmarshal(raw, &msg); err != nil {
		t.Fatalf("discord body %s: %v", raw, err)
	}
	if msg.Content != "Berth: survival crashed" || len(msg.Embeds) != 1 {
		t.Fatalf("discord body = %s", raw)
	}
	e := msg.Embeds[0]
	if e.Title != "instance.crashed" || e.Timestamp != "2026-01-02T03:04:05Z" {
		t.Errorf("embed = %+v", e)
	}
	fields := map[string]string{}
	for _, f := range e.Fields {
		fields[f.Name] = f.Value
		if len(f.Value) > 1024 {
			t.Errorf("field %s is %d bytes; Discord takes 1024", f.Name, len(f.Value))
		}
	}
	if fields["instance"] != "i1" || fields["node"] != "n1" || fields["exitCode"] != "137" || fields["oomKilled"] != "true" {
		t.Errorf("fields = %v", fields)
	}
	if !strings.HasSuffix(fields["error"], "é…") {
		t.Errorf("a long value is not cut on a character: %q", fields["error"][len(fields["error"])-8:])
	}
	if json, err := Body(FormatJSON, stored); err != nil || string(json) != stored {
		t.Errorf("the json format's body = %s, %v; want the stored event", json, err)
	}
}

// TestBackoffRetriesForOverAnHour checks every wait's bounds, and that
// the attempts of one delivery span more than an hour however the jitter
// falls: the shortest waits are the base ones.
func TestBackoffRetriesForOverAnHour(t *testing.T) {
	var total time.Duration
	for n := range MaxAttempts - 1 {
		base := min(30*time.Second<<n, 30*time.Minute)
		for range 100 {
			if d := backoff(n); d < base || d > base+base/4 {
				t.Fatalf("backoff(%d) = %v; want within [%v, %v]", n, d, base, base+base/4)
			}
		}
		total += base
	}
	if total <= time.Hour {
		t.Errorf("%d attempts span at least %v; want over an hour", MaxAttempts, total)
	}
}
