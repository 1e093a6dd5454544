package access

import (
	"context"
	"slices"
	"testing"

	"github.com/berth-dev/berth/internal/fault"
)

func TestAuthorizeDecidesForEveryKindOfPrincipal(t *testing.T) {
	owner := Principal{Kind: Session, UserID: "owner"}
	admin := Principal{Kind: Session, UserID: "root", Admin: true}
	key := Principal{Kind: AdminKey, CredentialID: "k1"}
	sub := Principal{Kind: Session, UserID: "friend"}
	stranger := Principal{Kind: Session, UserID: "stranger"}
	readOnly := Principal{Kind: Token, UserID: "owner", ReadOnly: true}
	in := Instance{ID: "i1", OwnerID: "owner"}
	shared := Instance{ID: "i1", OwnerID: "owner", Granted: []Permission{ConsoleRead, Power}}
	suspended := Instance{ID: "i1", OwnerID: "owner", Suspended: true}
	read := Action{Need: ConsoleRead}
	power := Action{Need: Power, Change: true}
	files := Action{Need: FilesWrite, Change: true}

	for _, tc := range []struct {
		name string
		p    Principal
		in   Instance
		act  Action
		want fault.Kind // Other means allowed
	}{
		{"owner reads", owner, in, read, fault.Other},
		{"owner powers", owner, in, power, fault.Other},
		{"admin user powers another's", admin, in, power, fault.Other},
		{"admin key powers", key, in, power, fault.Other},
		{"subuser uses a grant", sub, shared, power, fault.Other},
		{"subuser lacks a grant", sub, shared, files, fault.Permission},
		{"stranger is told nothing", stranger, in, read, fault.NotExist},
		{"subuser of another instance is a stranger", sub, in, read, fault.NotExist},
		{"read-only token reads", readOnly, in, read, fault.Other},
		{"read-only token may not change", readOnly, in, power, fault.Permission},
		{"suspended reads", owner, suspended, read, fault.Other},
		{"suspended refuses changes", owner, suspended, power, fault.Conflict},
		{"suspended refuses admins' changes too", admin, suspended, power, fault.Conflict},
		{"subuser with no grant views", sub, Instance{ID: "i1", OwnerID: "owner", Granted: []Permission{}}, View, fault.Other},
		{"stranger may not view", stranger, in, View, fault.NotExist},
	} {
		err := Authorize(tc.p, tc.in, tc.act)
		if got := fault.KindOf(err); (err == nil) != (tc.want == fault.Other) || (err != nil && got != tc.want) {
			t.Errorf("%s: err = %v (kind %v), want kind %v", tc.name, err, got, tc.want)
		}
	}
}

func TestHeldListsAllForOwnersAndAdminsAndTheGrantForSubusers(t *testing.T) {
	in := Instance{OwnerID: "owner", Granted: []Permission{FilesRead}}
	if got := Held(Principal{Kind: Token, UserID: "owner"}, in); !slices.Equal(got, All) {
		t.Errorf("owner holds %v", got)
	}
	if got := Held(Principal{Kind: Session, UserID: "x", Admin: true}, in); !slices.Equal(got, All) {
		t.Errorf("admin holds %v", got)
	}
	if got := Held(Principal{Kind: Session, UserID: "friend"}, in); !slices.Equal(got, []Permission{FilesRead}) {
		t.Errorf("subuser holds %v", got)
	}
	if got := Held(Principal{Kind: Session, UserID: "x"}, Instance{OwnerID: "owner"}); got != nil {
		t.Errorf("stranger holds %v", got)
	}
	// A principal without a user never matches an instance without an owner.
	if got := Held(Principal{Kind: Session}, Instance{}); got != nil {
		t.Errorf("userless principal holds %v", got)
	}
}

func TestCanGrantOnlyWhatIsHeld(t *testing.T) {
	if err := CanGrant([]Permission{Power, FilesRead}, []Permission{Power}); err != nil {
		t.Errorf("grant of a held permission: %v", err)
	}
	if err := CanGrant([]Permission{Power}, []Permission{Power, Subusers}); !fault.Is(err, fault.Permission) {
		t.Errorf("grant beyond what is held: %v", err)
	}
}

func TestParsePermissionsRefusesUnknownAndRepeatedNames(t *testing.T) {
	got, err := ParsePermissions([]string{"power", "console.read"})
	if err != nil || !slices.Equal(got, []Permission{ConsoleRead, Power}) {
		t.Fatalf("ParsePermissions = %v, %v", got, err)
	}
	for _, bad := range [][]string{{"root"}, {"power", "power"}, {""}} {
		if _, err := ParsePermissions(bad); !fault.Is(err, fault.Invalid) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

func TestPrincipalTravelsInTheContext(t *testing.T) {
	if _, ok := FromContext(context.Background()); ok {
		t.Fatal("an empty context carries a principal")
	}
	p := Principal{Kind: Token, UserID: "u"}
	if got, ok := FromContext(WithPrincipal(context.Background(), p)); !ok || got != p {
		t.Fatalf("FromContext = %+v, %v", got, ok)
	}
}

func TestKindNamesWhatTheActivityLogRecords(t *testing.T) {
	for k, want := range map[Kind]string{AdminKey: "key", Session: "session", Token: "token", 0: "unknown"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}
