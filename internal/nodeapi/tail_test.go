package nodeapi

import (
	"errors"
	"net/url"
	"testing"

	"github.com/berth-dev/berth/internal/fault"
)

func TestParseTailTakesOneToMaxOrTheDefault(t *testing.T) {
	for query, want := range map[string]int{"": 42, "tail=1": 1, "tail=5000": MaxLogTail, "other=3": 42} {
		q, _ := url.ParseQuery(query)
		if got, err := ParseTail(q, 42); err != nil || got != want {
			t.Errorf("%q: %d, %v; want %d", query, got, err, want)
		}
	}
	for _, query := range []string{"tail=", "tail=0", "tail=-1", "tail=abc", "tail=5001", "tail=1.5"} {
		q, _ := url.ParseQuery(query)
		_, err := ParseTail(q, 42)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "tail" || !fault.Is(err, fault.Invalid) || fault.Message(err) != fe.Error() {
			t.Errorf("%q: %v, want a *FieldError and an Invalid fault naming tail", query, err)
		}
	}
}
