package nodeapi

import (
	"fmt"
	"net/url"
	"strconv"

	"github.com/berth-dev/berth/internal/fault"
)

// ParseTail reads the tail parameter of a log request's query, on the node
// and the panel alike: a whole number from 1 to MaxLogTail, or def when
// the query has none. Its error is both a *FieldError, as the node's
// other protocol errors are, and an Invalid fault, as the panel's are.
func ParseTail(q url.Values, def int) (int, error) {
	if !q.Has("tail") {
		return def, nil
	}
	n, err := strconv.Atoi(q.Get("tail"))
	if err != nil || n < 1 || n > MaxLogTail {
		return 0, &fault.Error{Kind: fault.Invalid, Field: "tail",
			Err: &FieldError{Field: "tail", Rule: fmt.Sprintf("must be a whole number from 1 to %d", MaxLogTail)}}
	}
	return n, nil
}
