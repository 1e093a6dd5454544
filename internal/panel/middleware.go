package panel

import (
	"net"
	"net/http"
	"time"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/httplog"
	"github.com/berth-dev/berth/internal/store"
)

func requestID(r *http.Request) string { return httplog.RequestID(r.Context()) }

// logKeyID names the API key's id on a request's log line.
const logKeyID = "key_id"

// limitBody caps the request bodies next reads at limit bytes; past it,
// decoding reports errTooLarge and the answer is 413.
func limitBody(limit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// clientIP is the address the request came from, without the port.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// audit records a change that is not an instance's.
func (s *Server) audit(r *http.Request, action, target string) {
	s.record(r, store.AuditEntry{Action: action, Target: target})
}

// auditInstance records a change of an instance, whose id is the target.
func (s *Server) auditInstance(r *http.Request, action, instanceID string) {
	s.record(r, store.AuditEntry{Action: action, InstanceID: instanceID, Target: instanceID})
}

// asCaller is r acting as p, for the routes that find their actor
// themselves (sign-in and sign-out take no credential beforehand).
func asCaller(r *http.Request, p access.Principal) *http.Request {
	return r.WithContext(access.WithPrincipal(r.Context(), p))
}

// record completes e with who made the change, from where and when, from
// the request's principal, and appends it to the activity log. A failure
// to write it is logged, not answered: the change itself has already been
// made.
func (s *Server) record(r *http.Request, e store.AuditEntry) {
	p, _ := access.FromContext(r.Context())
	e.ActorKind, e.CredentialID, e.UserID = p.Kind.String(), p.CredentialID, p.UserID
	e.IP, e.At = clientIP(r), time.Now()
	if err := s.store.RecordAudit(r.Context(), e); err != nil {
		s.logError(r, "audit", err)
	}
}
