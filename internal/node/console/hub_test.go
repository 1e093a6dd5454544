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
	lim := Limits{LineRate: 10, ByteRate: 1 << 20}
	t0 := time.Unix(1000, 0)
	admitted, notices := 0, []string{}
	for i := range 25 {
		ok, notice := th.admit(t0.Add(time.Duration(i)*time.Millisecond), 1, lim)
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
		if ok, notice := th.admit(t0.Add(time.Second+time.Duration(i)*time.Millisecond), 1, lim); ok || notice != "" {
			t.Fatalf("line %d of the second busy second: admitted %v, notice %q", i, ok, notice)
		}
	}
	// A calm second ends it, with the count of what was dropped.
	if notice := th.settle(t0.Add(2*time.Second), lim); notice != "" {
		t.Errorf("settle after a busy second: %q", notice)
	}
	notice := th.settle(t0.Add(3*time.Second), lim)
	if !strings.Contains(notice, "resumed; 40 lines were dropped") {
		t.Errorf("settle after a calm second: %q", notice)
	}
	if ok, _ := th.admit(t0.Add(3*time.Second+time.Millisecond), 1, lim); !ok {
		t.Error("a line after the throttle ended was dropped")
	}
}

func TestRingKeepsTheLastLinesInOrder(t *testing.T) {
	r := ring{max: 3, maxBytes: 1 << 20}
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

func TestRingKeepsNoMoreBytesThanItsCap(t *testing.T) {
	r := ring{max: 100, maxBytes: 10}
	for _, l := range []string{"aaaa", "bbbb", "cccc"} {
		r.add(l)
	}
	if got := strings.Join(r.snapshot(), ","); got != "bbbb,cccc" || r.bytes != 8 {
		t.Errorf("ring = %s (%d bytes), want bbbb,cccc", got, r.bytes)
	}
	// A line longer than the cap alone is kept alone.
	r.add(strings.Repeat("x", 20))
	if r.len() != 1 || r.bytes != 20 {
		t.Errorf("after a long line the ring holds %d lines, %d bytes", r.len(), r.bytes)
	}
}

func TestThrottleCountsBytesAsWellAsLines(t *testing.T) {
	var th throttle
	lim := Limits{LineRate: 1000, ByteRate: 100}
	t0 := time.Unix(1000, 0)
	admitted := 0
	var notices []string
	for i := range 10 {
		ok, notice := th.admit(t0.Add(time.Duration(i)*time.Millisecond), 30, lim)
		if ok {
			admitted++
		}
		if notice != "" {
			notices = append(notices, notice)
		}
	}
	if admitted != 3 || len(notices) != 1 || !strings.Contains(notices[0], "throttled") {
		t.Errorf("10 lines of 30 bytes under 100 bytes a second: %d admitted, notices %q", admitted, notices)
	}
}

func TestReadLinesCutsALongLineWithAMarker(t *testing.T) {
	long := strings.Repeat("x", 3*MaxLineBytes+5)
	var got []string
	ReadLines(strings.NewReader("short\r\n"+long+"\nafter\nlast"), func(line []byte) {
		got = append(got, string(line))
	})
	want := []string{"short", strings.Repeat("x", MaxLineBytes) + CutMarker, "after", "last"}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d is %d bytes (%.40q...), want %d", i, len(got[i]), got[i], len(want[i]))
		}
	}
}

func TestClientQueueDropsTheOldestPastItsBytes(t *testing.T) {
	c := newClient(10)
	frame := make([]byte, 100<<10)
	for range 5 {
		c.push(frame)
	}
	if held := c.heldBytes(); held > QueueBytes {
		t.Errorf("queue holds %d bytes, over %d", held, QueueBytes)
	}
	_, dropped, ok := c.pop()
	if !ok || dropped != 3 {
		t.Errorf("first pop: ok %v, %d dropped; want 3 dropped", ok, dropped)
	}
	for range 100 {
		c.Reply(ErrorFrame(strings.Repeat("e", 1000)))
	}
	if c.replyBytes.Load() > ReplyBytes {
		t.Errorf("replies hold %d bytes, over %d", c.replyBytes.Load(), ReplyBytes)
	}
}

func TestThrottleEndsAfterACalmSecondWithoutAnotherLine(t *testing.T) {
	var th throttle
	lim := Limits{LineRate: 2, ByteRate: 1 << 20}
	t0 := time.Unix(1000, 0)
	for range 5 {
		th.admit(t0, 1, lim)
	}
	if notice := th.settle(t0.Add(2*time.Second), lim); !strings.Contains(notice, "resumed; 3 lines were dropped") {
		t.Errorf("two seconds after a flood: %q, want the resume notice", notice)
	}
}

// TestHubCountsEveryLineItsThrottleDrops: DroppedLines keeps counting
// across throttled spells, for the node's metrics, while the notice's
// count starts again with each spell.
func TestHubCountsEveryLineItsThrottleDrops(t *testing.T) {
	h := NewHub(Limits{Lines: 100, LineRate: 3, ByteRate: 1 << 20, Connections: 1})
	t0 := time.Unix(1000, 0)
	for spell := range 2 {
		start := t0.Add(time.Duration(spell) * 10 * time.Second)
		for i := range 10 {
			h.Output([]byte("line"), start.Add(time.Duration(i)*time.Millisecond))
		}
	}
	if got := h.DroppedLines(); got != 14 {
		t.Errorf("DroppedLines after two spells of 10 lines at a rate of 3 = %d, want 14", got)
	}
}
