package schedule

import (
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

// BenchmarkNext measures Spec.Next, with its once-a-day rule across clock
// changes, against the library's own Next of the same expression in the
// same zone: the cost of the rule per next-run computation.
func BenchmarkNext(b *testing.B) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		b.Fatal(err)
	}
	from := time.Date(2026, 10, 24, 12, 0, 0, 0, time.UTC)
	b.Run("library", func(b *testing.B) {
		parsed, err := cron.ParseStandard("30 2 * * *")
		if err != nil {
			b.Fatal(err)
		}
		sched := parsed.(*cron.SpecSchedule)
		sched.Location = loc
		for b.Loop() {
			sched.Next(from)
		}
	})
	b.Run("berth", func(b *testing.B) {
		spec, err := Parse("30 2 * * *", "Europe/Berlin")
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			spec.Next(from)
		}
	})
}
