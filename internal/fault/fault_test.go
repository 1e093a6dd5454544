package fault

import (
	"errors"
	"fmt"
	"testing"
)

func TestKindOfFindsTheKindThroughWrapping(t *testing.T) {
	for _, c := range []struct {
		err  error
		want Kind
	}{
		{nil, Other},
		{errors.New("plain"), Other},
		{New(NotExist, "gone"), NotExist},
		{fmt.Errorf("deploy x: %w", InvalidField("ports", "bad")), Invalid},
		{fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", New(Conflict, "busy"))), Conflict},
		{&Error{Kind: Unavailable, Err: errors.New("dial")}, Unavailable},
	} {
		if got := KindOf(c.err); got != c.want {
			t.Errorf("KindOf(%v) = %d, want %d", c.err, got, c.want)
		}
	}
	if Is(nil, Other) {
		t.Errorf("Is(nil, Other) is true: nil is no error at all")
	}
}

func TestInvalidFieldNamesTheField(t *testing.T) {
	err := InvalidField("memory", "must be between %d and %d", 1, 10)
	var e *Error
	if !errors.As(err, &e) || e.Field != "memory" || e.Kind != Invalid || err.Error() != "memory: must be between 1 and 10" {
		t.Errorf("InvalidField = %#v (%q)", e, err)
	}
}

func TestMessageHidesTheDetailsOfUnexpectedErrors(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{errors.New("pq: password authentication failed for user berth"), ""},
		{fmt.Errorf("create user: %w", errors.New("disk full")), ""},
		{&Error{Kind: Other, Msg: "internal detail"}, ""},
		{&Error{Kind: Unavailable, Msg: "node n1 did not answer", Err: errors.New("dial tcp 10.0.0.1:8443: refused")}, "node n1 did not answer"},
		{fmt.Errorf("wrapped: %w", New(NotExist, "Instance not found")), "Instance not found"},
		{&Error{Kind: Conflict, Err: errors.New("busy")}, "busy"},
	} {
		if got := Message(c.err); got != c.want {
			t.Errorf("Message(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestErrorJoinsMessageAndCause(t *testing.T) {
	cause := errors.New("cause")
	for _, c := range []struct {
		err  *Error
		want string
	}{
		{&Error{Msg: "msg", Err: cause}, "msg: cause"},
		{&Error{Msg: "msg"}, "msg"},
		{&Error{Err: cause}, "cause"},
		{&Error{}, "error"},
	} {
		if got := c.err.Error(); got != c.want {
			t.Errorf("Error() = %q, want %q", got, c.want)
		}
	}
	if !errors.Is(&Error{Err: cause}, cause) {
		t.Errorf("an Error does not unwrap to its cause")
	}
}

func TestEveryKindHasAStableNameThatParsesBack(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Kinds() {
		name := k.String()
		if seen[name] {
			t.Errorf("two kinds are named %q", name)
		}
		seen[name] = true
		if got, ok := ParseKind(name); !ok || got != k {
			t.Errorf("ParseKind(%q) = %v, %v; want %v", name, got, ok, k)
		}
	}
	if NotExist.String() != "not_exist" {
		t.Errorf("NotExist is named %q on the wire, want not_exist", NotExist)
	}
	if _, ok := ParseKind("no_such_kind"); ok {
		t.Error("ParseKind accepted an unknown name")
	}
}

func TestEveryKindHasAStatusThatReadsBack(t *testing.T) {
	for _, k := range Kinds() {
		want := k
		if k == Exist {
			// 409 stands for both; an answer reads as the more general.
			want = Conflict
		}
		if got := KindOfStatus(k.Status()); got != want {
			t.Errorf("%s: status %d reads back as %s, want %s", k, k.Status(), got, want)
		}
	}
	for status, want := range map[int]Kind{422: Invalid, 418: Other, 502: Other} {
		if got := KindOfStatus(status); got != want {
			t.Errorf("status %d reads as %s, want %s", status, got, want)
		}
	}
}
