package nodeapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/fault"
)

// Default timeouts, used when the caller's context has no deadline. Each
// matches the slowest honest answer of its call: Ensure may pull an image,
// Power may wait out a stop timeout and then start.
const (
	healthTimeout    = 5 * time.Second
	readTimeout      = 15 * time.Second
	ensureTimeout    = 10 * time.Minute
	removeTimeout    = 2 * time.Minute
	powerTimeout     = 3 * time.Minute
	logsTimeout      = 30 * time.Second
	configureTimeout = 30 * time.Second
)

// Response bodies are read up to these sizes, so a broken or hostile node
// cannot make the panel buffer without end.
const (
	maxResponseBytes = 32 << 20
	maxErrorBytes    = 64 << 10
)

// Error is a failed call to a node (or to the panel, for Configure): a
// non-2xx answer, or none at all. Its text is only Message, fit to show a
// user: the call's method and path stay in Op, for logs.
type Error struct {
	// Status is the HTTP status code; 0 when no answer came.
	Status int
	// Kind is what the answer's "kind" names, or, from a node that sends
	// none, what its status means (fault.KindOfStatus). A call that got no
	// answer is Unavailable.
	Kind fault.Kind
	// Message is the answer's {"error"} text, or the status text without
	// one; "node unreachable" or "node did not answer in time" without an
	// answer.
	Message string
	// Op is the call: "GET /v1/instances/x".
	Op string
	// RetryAfter is the wait the answer's Retry-After header asks for.
	RetryAfter time.Duration
	// cause is the transport's failure, when no answer came.
	cause error
}

func (e *Error) Error() string { return e.Message }

// Unwrap gives the error's fault, so that fault.KindOf and fault.Message
// read it, and the transport's failure, so that errors.Is finds
// context.Canceled when the caller gave up.
func (e *Error) Unwrap() []error {
	return []error{&fault.Error{Kind: e.Kind, Msg: e.Message, RetryAfter: e.RetryAfter}, e.cause}
}

// LogValue puts the call and the cause on a log line, which Error leaves
// out.
func (e *Error) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("op", e.Op), slog.String("kind", e.Kind.String()), slog.String("msg", e.Message)}
	if e.Status != 0 {
		attrs = append(attrs, slog.Int("status", e.Status))
	}
	if e.cause != nil {
		attrs = append(attrs, slog.String("cause", e.cause.Error()))
	}
	return slog.GroupValue(attrs...)
}

// IsNotFound reports whether err says the thing asked about does not
// exist.
func IsNotFound(err error) bool { return fault.Is(err, fault.NotExist) }

// IsConflict reports whether err says the request clashes with the
// instance's state, such as starting a suspended instance.
func IsConflict(err error) bool { return fault.Is(err, fault.Conflict) }

// IsImageError reports whether the node refused what it was asked to run:
// an image neither present nor pullable, or a spec that breaks a rule.
// Retrying will not help.
func IsImageError(err error) bool { return fault.Is(err, fault.Invalid) }

// Client calls one node's /v1 API. It is safe for concurrent use.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// NewClient returns a client for the node at baseURL (http:// or https://),
// authenticating with token. tlsConfig, when not nil, is used for https.
func NewClient(baseURL, token string, tlsConfig *tls.Config) *Client {
	return &Client{
		base:  strings.TrimRight(baseURL, "/"),
		token: token,
		http:  newHTTPClient(tlsConfig),
	}
}

// String names the node without the token, so a client that ends up in a
// log line or an error does not carry its secret along.
func (c *Client) String() string { return "nodeapi.Client(" + c.base + ")" }

// GoString is String for %#v, which would otherwise print every field.
func (c *Client) GoString() string { return c.String() }

// CloseIdleConnections closes the kept-alive connections of the client's
// transport, which every client made without a TLS config shares.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// sharedTransport carries the calls of every client made without a TLS
// config of its own. Clients are short-lived (the panel makes one per
// request about a node): a transport each would open a connection per
// request and leave it idle behind it until the idle timeout.
var sharedTransport = http.DefaultTransport.(*http.Transport).Clone()

// tlsTransports holds one transport per TLS config, for the same reason:
// clients given the same *tls.Config share connections.
var tlsTransports sync.Map // *tls.Config -> *http.Transport

func newHTTPClient(tlsConfig *tls.Config) *http.Client {
	t := sharedTransport
	if tlsConfig != nil {
		fresh := sharedTransport.Clone()
		fresh.TLSClientConfig = tlsConfig.Clone()
		got, _ := tlsTransports.LoadOrStore(tlsConfig, fresh)
		t = got.(*http.Transport)
	}
	return &http.Client{
		Transport: t,
		// A protocol endpoint never redirects; following one would send the
		// request (and, to the same host, the token) somewhere unintended.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Health asks whether the node is up and can reach Docker.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	err := c.call(ctx, healthTimeout, http.MethodGet, "/v1/health", nil, &h)
	return h, err
}

// ListInstances reports every instance the node knows.
func (c *Client) ListInstances(ctx context.Context) ([]InstanceStatus, error) {
	var list []InstanceStatus
	err := c.call(ctx, readTimeout, http.MethodGet, "/v1/instances", nil, &list)
	return list, err
}

// GetInstance reports one instance; IsNotFound(err) when the node has none.
func (c *Client) GetInstance(ctx context.Context, id string) (InstanceStatus, error) {
	return callInstance[InstanceStatus](ctx, c, readTimeout, http.MethodGet, id, "", nil)
}

// EnsureInstance asks the node to make the instance match spec, creating,
// starting or stopping it as needed. Retrying it is safe.
func (c *Client) EnsureInstance(ctx context.Context, spec InstanceSpec) (InstanceStatus, error) {
	return callInstance[InstanceStatus](ctx, c, ensureTimeout, http.MethodPut, spec.ID, "", spec)
}

// RemoveInstance stops and deletes the instance's container and data. An
// instance that is already gone is not an error.
func (c *Client) RemoveInstance(ctx context.Context, id string) error {
	p, err := instancePath(id, "")
	if err != nil {
		return err
	}
	return c.call(ctx, removeTimeout, http.MethodDelete, p, nil, nil)
}

// RequestPower runs req's action (ActionStart, ActionStop, ActionRestart
// or ActionKill), carrying the generation the panel recorded with it (see
// PowerRequest.Generation).
func (c *Client) RequestPower(ctx context.Context, id string, req PowerRequest) (InstanceStatus, error) {
	return callInstance[InstanceStatus](ctx, c, powerTimeout, http.MethodPost, id, "/power", req)
}

// Logs returns up to tail of the instance's latest output lines; tail <= 0
// asks for the node's default (DefaultLogTail).
func (c *Client) Logs(ctx context.Context, id string, tail int) ([]string, error) {
	logs, err := callInstance[Logs](ctx, c, logsTimeout, http.MethodGet, id, "/logs"+tailQuery(tail), nil)
	return logs.Lines, err
}

// Configure trades a one-time configure key for the node's identity and
// token at <panelURL>/nodes/configure. The key travels in the body only.
func Configure(ctx context.Context, panelURL, configureKey string) (ConfigureResponse, error) {
	var resp ConfigureResponse
	u, err := url.Parse(panelURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return resp, fmt.Errorf("configure: panel URL must be http:// or https:// with a host")
	}
	if configureKey == "" {
		return resp, errors.New("configure: configure key is empty")
	}
	c := &Client{base: strings.TrimRight(panelURL, "/"), http: newHTTPClient(nil)}
	if err := c.call(ctx, configureTimeout, http.MethodPost, "/nodes/configure", ConfigureRequest{ConfigureKey: configureKey}, &resp); err != nil {
		var e *Error
		if errors.As(err, &e) && e.Status == 0 {
			// The words of noAnswer are about a node.
			return resp, fmt.Errorf("configure: the panel at %s did not answer: %w", u.Redacted(), e.cause)
		}
		return resp, err
	}
	switch {
	case resp.NodeID == "":
		return resp, errors.New("configure: panel answered without a nodeId")
	case len(resp.Token) < 32:
		return resp, errors.New("configure: panel answered without a usable token")
	case resp.Port < 1 || resp.Port > 65535:
		return resp, fmt.Errorf("configure: panel answered with port %d", resp.Port)
	}
	return resp, nil
}

// instancePath builds /v1/instances/<id><suffix>. The ID is checked here so
// that an empty or odd one fails loudly instead of addressing another route.
func instancePath(id, suffix string) (string, error) {
	if err := ValidateInstanceID(id); err != nil {
		return "", fmt.Errorf("instance %q: %w", id, err)
	}
	return "/v1/instances/" + url.PathEscape(id) + suffix, nil
}

// callInstance sends one request about instance id, to
// /v1/instances/<id><suffix>, and decodes the answer into a T.
func callInstance[T any](ctx context.Context, c *Client, timeout time.Duration, method, id, suffix string, in any) (T, error) {
	var out T
	p, err := instancePath(id, suffix)
	if err != nil {
		return out, err
	}
	err = c.call(ctx, timeout, method, p, in, &out)
	return out, err
}

// tailQuery asks for the last tail lines; tail <= 0 leaves the node's
// default.
func tailQuery(tail int) string {
	if tail <= 0 {
		return ""
	}
	return "?tail=" + strconv.Itoa(tail)
}

// call sends one request and decodes a 2xx answer into out (when not nil).
// Errors name the method and path, never the token or the request body.
func (c *Client) call(ctx context.Context, timeout time.Duration, method, path string, in, out any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encode request: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	op := method + " " + path
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return noAnswer(op, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return readError(op, resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		// Drain so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBytes))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// readError turns a non-2xx answer into *Error, keeping the {"error"} text
// and the kind when there are.
func readError(op string, resp *http.Response) *Error {
	e := &Error{Op: op, Status: resp.StatusCode, Kind: fault.KindOfStatus(resp.StatusCode)}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		e.RetryAfter = time.Duration(secs) * time.Second
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
	var body ErrorBody
	if json.Unmarshal(raw, &body) == nil && body.Error != "" {
		e.Message = body.Error
		if k, ok := fault.ParseKind(body.Kind); ok {
			e.Kind = k
		}
	} else {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}

// noAnswer is the *Error of a call that got no answer. Its message says
// so in words a user can act on; the transport's (the URL, the address
// dialed) stays in the log.
func noAnswer(op string, err error) *Error {
	msg := "node unreachable"
	if errors.Is(err, context.DeadlineExceeded) {
		msg = "node did not answer in time"
	}
	return &Error{Op: op, Kind: fault.Unavailable, Message: msg, cause: err}
}
