package console

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/nodeapi"
)

func TestThrottleDropsPastTheRateWithOneNoticeEach(t *testing.T) {
	var th throttle
	t0 := time.Unix(1000, 0)
	admitted, notices := 0, []string{}
	for i := range 25 {
		ok, notice := th.admit(t0.Add(time.Duration(i)*time.Millisecond), 10)
		if ok {
			admitted++
		}
		if notice != "" {
			notices = append(notices, notice)
		}
	}
	if admitted != 10 || len(notices) != 1 || !strings.Contains(notices[0], "throttled") {
		t.Fatalf("in one busy second: %d admitted, notices %q; want 10 and one throttled notice", admitted, notices)
	}
	// A second as busy keeps it throttled, silently.
	for i := range 25 {
		if ok, notice := th.admit(t0.Add(time.Second+time.Duration(i)*time.Millisecond), 10); ok || notice != "" {
			t.Fatalf("line %d of the second busy second: admitted %v, notice %q", i, ok, notice)
		}
	}
	// A calm second ends it, with the count of what was dropped.
	if notice := th.settle(t0.Add(2*time.Second), 10); notice != "" {
		t.Errorf("settle after a busy second: %q", notice)
	}
	notice := th.settle(t0.Add(3*time.Second), 10)
	if !strings.Contains(notice, "resumed; 40 lines were dropped") {
		t.Errorf("settle after a calm second: %q", notice)
	}
	if ok, _ := th.admit(t0.Add(3*time.Second+time.Millisecond), 10); !ok {
		t.Error("a line after the throttle ended was dropped")
	}
}

func TestRingKeepsTheLastLinesInOrder(t *testing.T) {
	r := ring{lines: make([]string, 3)}
	if got := r.snapshot(); len(got) != 0 {
		t.Errorf("empty ring = %q", got)
	}
	for _, l := range []string{"a", "b"} {
		r.add(l)
	}
	if got := strings.Join(r.snapshot(), ","); got != "a,b" {
		t.Errorf("ring = %s, want a,b", got)
	}
	for _, l := range []string{"c", "d", "e"} {
		r.add(l)
	}
	if got := strings.Join(r.snapshot(), ","); got != "c,d,e" || r.len() != 3 {
		t.Errorf("ring = %s, want c,d,e", got)
	}
}

func TestOutputFramesAreTheJSONEncodingWouldWrite(t *testing.T) {
	for _, line := range []string{
		"", "plain", `quote " and \ backslash`, "tab\tcr\rnl\n", "\x1b[33mcolour\x1b[0m", "nul\x00",
		"ünïcødé ✓", "bad utf8 \xff\xfe end", "separators \u2028 \u2029", "del \x7f",
	} {
		var m nodeapi.ConsoleMessage
		frame := OutputFrame(line)
		if err := json.Unmarshal(frame, &m); err != nil {
			t.Errorf("frame of %q = %s: %v", line, frame, err)
			continue
		}
		want, _ := json.Marshal(line)
		var wantText string
		_ = json.Unmarshal(want, &wantText)
		if m.Event != nodeapi.EventOutput || m.Text() != wantText {
			t.Errorf("frame of %q decodes to %s %q, want %q", line, m.Event, m.Text(), wantText)
		}
	}
}

func TestCheckCommandRefusesWhatIsNotOneLine(t *testing.T) {
	for cmd, ok := range map[string]bool{
		"say hello":               true,
		"say\ttabbed":             true,
		"":                        false,
		"   ":                     false,
		"say a\nstop":             false,
		"bell\a":                  false,
		"bad \xff":                false,
		strings.Repeat("x", 4097): false,
	} {
		if err := CheckCommand(cmd); (err == nil) != ok {
			t.Errorf("CheckCommand(%q) = %v, want ok %v", cmd, err, ok)
		}
	}
}

func TestRateLimiterAllowsTheRateAndRefills(t *testing.T) {
	l := NewRateLimiter(10)
	t0 := time.Unix(0, 0)
	allowed := 0
	for range 30 {
		if l.Allow(t0) {
			allowed++
		}
	}
	if allowed != 10 {
		t.Errorf("burst allowed %d, want 10", allowed)
	}
	if l.Allow(t0.Add(50 * time.Millisecond)) {
		t.Error("allowed after 50ms, when half a token has come back")
	}
	if !l.Allow(t0.Add(150 * time.Millisecond)) {
		t.Error("refused after 150ms, when a token has come back")
	}
}
