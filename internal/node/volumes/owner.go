package volumes

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultUser is the user and group instances run as when the
// node is given none. 988 is Pterodactyl's convention, so the images its
// eggs use (the "yolks") expect it; it is an unprivileged id that owns
// nothing else on a host, so a game that escaped its container would find
// no files of its own there.
const DefaultUser = "988:988"

// Owner is a numeric user and group: the one instances' containers run as,
// which owns their data folders.
type Owner struct {
	UID, GID int
}

// String is the "uid:gid" form Docker takes.
func (o Owner) String() string { return strconv.Itoa(o.UID) + ":" + strconv.Itoa(o.GID) }

// Root reports whether o is root's user or group.
func (o Owner) Root() bool { return o.UID == 0 || o.GID == 0 }

// ParseOwner reads a container user written "uid:gid", both numeric:
// names would be resolved inside each image, differently in each, while
// the node must chown the data folder to the same ids on the host. Root
// ("0:0") is accepted, since an operator may ask for it.
func ParseOwner(s string) (Owner, error) {
	uid, gid, ok := strings.Cut(s, ":")
	if !ok {
		return Owner{}, fmt.Errorf("container user %q: must be uid:gid, both numbers (like %s)", s, DefaultUser)
	}
	var o Owner
	for _, f := range []struct {
		s    string
		dst  *int
		name string
	}{{uid, &o.UID, "uid"}, {gid, &o.GID, "gid"}} {
		n, err := strconv.ParseUint(f.s, 10, 32)
		// (uint32)(-1) means "no change" to chown; it names nobody.
		if err != nil || n == 1<<32-1 {
			return Owner{}, fmt.Errorf("container user %q: %s must be a number from 0 to %d", s, f.name, uint32(1<<32-2))
		}
		*f.dst = int(n)
	}
	return o, nil
}
