package panel

import "fmt"

// Mode selects the status codes the API answers with. The seed
// specification's codes are the default; skyport-0.3 gives the codes that
// clients written against Skyport 0.3 branch on.
type Mode string

// The API compatibility modes.
const (
	ModeSeed      Mode = "seed"
	ModeSkyport03 Mode = "skyport-0.3"
)

// ParseMode validates a -api-compat value; empty means ModeSeed.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "", ModeSeed:
		return ModeSeed, nil
	case ModeSkyport03:
		return ModeSkyport03, nil
	}
	return "", fmt.Errorf("api-compat: unknown mode %q (want %q or %q)", s, ModeSeed, ModeSkyport03)
}

// outcome is a result whose status code differs between modes.
type outcome int

const (
	// userFound is a successful getUser.
	userFound outcome = iota
	// seedNotFound is a lookup miss on an endpoint of the seed: getUser,
	// getInstance, getUserInstance, instance/delete, suspend, unsuspend and
	// nodes/delete.
	seedNotFound
	// instanceDeleted is a successful instance/delete.
	instanceDeleted
	// nodeDeleted is a successful nodes/delete.
	nodeDeleted
)

// statusTable is the one place that decides these codes.
var statusTable = map[outcome]map[Mode]int{
	userFound:       {ModeSeed: 201, ModeSkyport03: 200},
	seedNotFound:    {ModeSeed: 400, ModeSkyport03: 404},
	instanceDeleted: {ModeSeed: 201, ModeSkyport03: 200},
	nodeDeleted:     {ModeSeed: 201, ModeSkyport03: 201},
}

func (m Mode) status(o outcome) int { return statusTable[o][m] }
