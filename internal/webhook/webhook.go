// Package webhook checks and delivers webhooks (DESIGN §12): what a
// webhook may be (its address, events and format), the signed POST of an
// event, and the worker that sends the database's queue of deliveries,
// retrying with backoff for over an hour, once across several panels.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/netguard"
	"github.com/berth-dev/berth/internal/store"
)

// Formats of a delivery's body.
const (
	FormatJSON    = "json"
	FormatDiscord = "discord"
)

// MaxURLLength bounds a webhook's address.
const MaxURLLength = 2048

// SignatureHeader carries a delivery's signature: "t=<unix seconds>,v1=<hex
// HMAC-SHA256 of "<t>.<body>">". A receiver recomputes it with the secret
// and refuses a t too far from its own clock, so that a captured delivery
// cannot be replayed later.
const SignatureHeader = "X-Berth-Signature"

// AllowHint names what lifts the address guard, for the errors that
// refuse an address.
const AllowHint = "-allow-private-webhooks (BERTH_ALLOW_PRIVATE_WEBHOOKS)"

// ParseEvents checks a list of event names and returns it in
// store.WebhookEvents' order without repeats; field names the list in an
// error.
func ParseEvents(field string, names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, fault.InvalidField(field, "must list at least one of %s", strings.Join(store.WebhookEvents, ", "))
	}
	for _, n := range names {
		if !slices.Contains(store.WebhookEvents, n) {
			return nil, fault.InvalidField(field, "%q is not an event; the events are %s", n, strings.Join(store.WebhookEvents, ", "))
		}
	}
	var out []string
	for _, e := range store.WebhookEvents {
		if slices.Contains(names, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// CheckURL checks a webhook's address: absolute http or https with a host,
// no credentials in it, at most MaxURLLength bytes, and, unless
// allowPrivate, no literal address that is not public. A host name is
// judged at delivery instead, on every address it resolves to, by the
// dialer's guard. field names the address in an error.
func CheckURL(field, raw string, allowPrivate bool) error {
	if len(raw) > MaxURLLength {
		return fault.InvalidField(field, "must be at most %d bytes", MaxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.Opaque != "" {
		return fault.InvalidField(field, "must be an http:// or https:// URL with a host")
	}
	if u.User != nil {
		return fault.InvalidField(field, "must not carry a user name or password")
	}
	if allowPrivate {
		return nil
	}
	ip, err := netip.ParseAddr(u.Hostname())
	if err != nil {
		return nil
	}
	if err := netguard.Check(ip); err != nil {
		return fault.InvalidField(field, "%v (the panel's operator may allow it with %s)", err, AllowHint)
	}
	return nil
}

// CheckFormat checks a delivery format; "" is json.
func CheckFormat(field, format string) (string, error) {
	switch format {
	case "", FormatJSON:
		return FormatJSON, nil
	case FormatDiscord:
		return FormatDiscord, nil
	}
	return "", fault.InvalidField(field, "must be %q or %q", FormatJSON, FormatDiscord)
}

// Sign returns the SignatureHeader value of body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// discordMessage is Discord's execute-webhook body: readable text and one
// embed with the event's details.
type discordMessage struct {
	Content string         `json:"content"`
	Embeds  []discordEmbed `json:"embeds"`
}

type discordEmbed struct {
	Title       string         `json:"title"`
	Description string         `json:"description,omitempty"`
	Timestamp   string         `json:"timestamp"`
	Color       int            `json:"color"`
	Fields      []discordField `json:"fields,omitempty"`
}

type discordField struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Inline bool   `json:"inline"`
}

// Discord caps an embed field's value at 1024 characters and the content
// at 2000; a reason (an install's output tail) may be longer.
const discordFieldMax = 1000

// Body returns what is sent for a queued event in format: the stored
// JSON itself, or Discord's message made from it.
func Body(format, stored string) ([]byte, error) {
	if format != FormatDiscord {
		return []byte(stored), nil
	}
	var p store.EventBody
	if err := json.Unmarshal([]byte(stored), &p); err != nil {
		return nil, fmt.Errorf("read queued event: %w", err)
	}
	subject := ""
	if name, _ := p.Data["name"].(string); name != "" {
		subject = name
	}
	what := strings.ReplaceAll(p.Event, ".", " ")
	content := "Berth: " + what
	if subject != "" {
		content = fmt.Sprintf("Berth: %s %s", subject, eventVerb(p.Event))
	}
	embed := discordEmbed{Title: p.Event, Description: content, Timestamp: p.At.UTC().Format(time.RFC3339),
		Color: eventColor(p.Event)}
	if p.Instance != "" {
		embed.Fields = append(embed.Fields, discordField{Name: "instance", Value: p.Instance, Inline: true})
	}
	if p.Node != "" {
		embed.Fields = append(embed.Fields, discordField{Name: "node", Value: p.Node, Inline: true})
	}
	keys := make([]string, 0, len(p.Data))
	for k := range p.Data {
		if k != "name" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := fmt.Sprint(p.Data[k])
		if v == "" {
			continue
		}
		if len(v) > discordFieldMax {
			v = strings.ToValidUTF8(v[:discordFieldMax], "") + "…"
		}
		embed.Fields = append(embed.Fields, discordField{Name: k, Value: v})
	}
	return json.Marshal(discordMessage{Content: content, Embeds: []discordEmbed{embed}})
}

// eventVerb says what happened to the subject of an event, in words.
func eventVerb(event string) string {
	switch event {
	case store.EventInstanceStarted:
		return "started"
	case store.EventInstanceStopped:
		return "stopped"
	case store.EventInstanceCrashed:
		return "crashed"
	case store.EventInstallFailed:
		return "failed to install"
	case store.EventBackupCompleted:
		return "was backed up"
	case store.EventBackupFailed:
		return "failed to back up"
	case store.EventNodeOffline:
		return "went offline"
	case store.EventNodeOnline:
		return "is online again"
	}
	return event
}

// eventColor is the embed's side bar: red for trouble, green otherwise.
func eventColor(event string) int {
	switch event {
	case store.EventInstanceCrashed, store.EventInstallFailed, store.EventBackupFailed, store.EventNodeOffline:
		return 0xd83c3e
	case store.EventInstanceStopped:
		return 0x8a8f98
	}
	return 0x2f9e44
}
