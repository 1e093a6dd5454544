package httplog

import (
	"io"
	"net/http"
	"time"
)

// TimeBody bounds the time next's request body may take to arrive, so that
// a client sending it slowly cannot hold a connection, a goroutine and
// their buffers for ever. Without idle, the body must arrive whole within
// timeout; with idle (an upload), it lives as long as it makes progress,
// cut off only after timeout without a byte.
//
// It replaces http.Server's ReadTimeout, which must stay unset: past the
// body, net/http watches the connection for the client hanging up, and a
// read deadline left on it cancels every answer that takes longer, a
// power action or an archive. TimeBody lifts its deadline at the body's
// end.
func TimeBody(timeout time.Duration, idle bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			// Nothing to wait for, and a deadline would cancel the
			// request's context.
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		// A ResponseWriter that cannot set deadlines (a test's recorder)
		// has no connection to protect.
		if rc.SetReadDeadline(time.Now().Add(timeout)) == nil {
			b := &timedBody{ReadCloser: r.Body, rc: rc}
			if idle {
				b.idle = timeout
			}
			r.Body = b
		}
		next.ServeHTTP(w, r)
	})
}

// timedBody is a request body read under a deadline on its connection:
// fixed, or, with idle set, moved forward before each read. At the body's
// end the deadline is lifted, for the reason TimeBody gives.
type timedBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
	done bool
}

func (b *timedBody) Read(p []byte) (int, error) {
	if b.idle > 0 && !b.done {
		_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	}
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
