package panel

import (
	"time"

	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/ports"
	"github.com/berth-dev/berth/internal/store"
)

// The JSON shapes of the API. Field names follow the original system so
// that its clients keep working; none of these types has a field for a
// secret, so no handler can leak one by accident.

type userView struct {
	UserID    string    `json:"userId"`
	Username  string    `json:"username"`
	Email     string    `json:"email"`
	Admin     bool      `json:"admin"`
	CreatedAt time.Time `json:"createdAt"`
}

func viewUser(u store.User) userView {
	return userView{UserID: u.ID, Username: u.Username, Email: u.Email, Admin: u.Admin, CreatedAt: u.CreatedAt}
}

type nodeView struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Tags      string     `json:"tags"`
	RAM       int64      `json:"ram"`
	Disk      int64      `json:"disk"`
	Processor string     `json:"processor"`
	Address   string     `json:"address"`
	Port      int        `json:"port"`
	Scheme    string     `json:"scheme"`
	Status    string     `json:"status"`
	LastSeen  *time.Time `json:"lastSeen"`
	Version   string     `json:"version"`
	CreatedAt time.Time  `json:"createdAt"`
	// DrivenBy is the panel that reconciles the node now, null when none
	// does (DESIGN §13).
	DrivenBy *drivenByView `json:"drivenBy"`
}

// drivenByView names a panel among those sharing the database: its ID,
// where it serves, and since when it drives the node.
type drivenByView struct {
	Panel   string    `json:"panel"`
	Address string    `json:"address"`
	Since   time.Time `json:"since"`
}

func viewNode(n store.Node) nodeView {
	v := nodeView{ID: n.ID, Name: n.Name, Tags: n.Tags, RAM: n.RAMMiB, Disk: n.DiskMiB, Processor: n.Processor,
		Address: n.Address, Port: n.Port, Scheme: n.Scheme, Status: n.Status, Version: n.Version, CreatedAt: n.CreatedAt}
	if !n.LastSeen.IsZero() {
		v.LastSeen = &n.LastSeen
	}
	if n.Lease.Live(time.Now()) {
		v.DrivenBy = &drivenByView{Panel: n.Lease.Holder, Address: n.Lease.Address, Since: n.Lease.Since}
	}
	return v
}

type nodeSummaryView struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Address string `json:"address"`
	Port    int    `json:"port"`
	Status  string `json:"status"`
}

type instanceView struct {
	ID            string            `json:"Id"`
	Name          string            `json:"Name"`
	User          string            `json:"User"`
	Node          nodeSummaryView   `json:"Node"`
	Image         string            `json:"Image"`
	ImageID       string            `json:"ImageId,omitempty"`
	Memory        int64             `json:"Memory"`
	CPU           float64           `json:"Cpu"`
	Disk          int64             `json:"Disk"`
	Ports         string            `json:"Ports"`
	Primary       string            `json:"Primary"`
	Variables     map[string]string `json:"Variables"`
	InternalState string            `json:"InternalState"`
	Status        string            `json:"Status"`
	Error         string            `json:"Error,omitempty"`
	ExitCode      int               `json:"ExitCode"`
	OOMKilled     bool              `json:"OOMKilled"`
	ContainerID   string            `json:"ContainerId"`
	VolumeID      string            `json:"VolumeId"`
	Suspended     bool              `json:"suspended"`
	CreatedAt     time.Time         `json:"CreatedAt"`
	// BackupLimit is how many backups the instance may hold at once.
	BackupLimit int `json:"backupLimit"`
}

// viewInstance shapes an instance. While its node is offline, its power
// status is unknown, and says so: "offline".
func viewInstance(in store.Instance) instanceView {
	status := in.Status
	if in.Node.Status == store.NodeOffline {
		status = "offline"
	}
	v := instanceView{
		ID: in.ID, Name: in.Name, User: in.UserID,
		Node:  nodeSummaryView{ID: in.Node.ID, Name: in.Node.Name, Address: in.Node.Address, Port: in.Node.Port, Status: in.Node.Status},
		Image: in.Image, ImageID: in.TemplateID, Memory: in.MemoryMiB, CPU: in.CPU, Disk: in.DiskMiB,
		Ports: ports.Format(in.Ports), Primary: in.PrimaryRaw, Variables: in.Variables,
		InternalState: in.InternalState, Status: status, ContainerID: in.ContainerID, VolumeID: in.ID,
		Suspended: in.Suspended, CreatedAt: in.CreatedAt, BackupLimit: in.BackupLimit,
	}
	// Before READY, the error is the install's; after, the node's account
	// of the running server (a crash loop, the disk limit).
	if in.InternalState != store.StateReady {
		v.Error = in.LastError
	} else {
		v.Error = in.NodeError
	}
	v.ExitCode, v.OOMKilled = in.ExitCode, in.OOMKilled
	return v
}

// messageView is the answer of a change with nothing else to say.
type messageView struct {
	Message string `json:"message"`
}

// healthView is the answer of GET /healthz.
type healthView struct {
	Status string `json:"status"`
}

// logsView is the last lines of an instance's console output.
type logsView struct {
	ID    string   `json:"id"`
	Lines []string `json:"lines"`
}

// installLogView is the output of an instance's install; its fields are
// in the order a map's keys would be, as the answer had them first.
type installLogView struct {
	Error      string   `json:"error"`
	ID         string   `json:"id"`
	Installed  bool     `json:"installed"`
	Installing bool     `json:"installing"`
	Lines      []string `json:"lines"`
}

// statsView is a sample of an instance's resource use.
type statsView struct {
	ID string `json:"id"`
	nodeapi.Stats
}

// diskView is what an instance's data folder holds, and its limit.
type diskView struct {
	ID string `json:"id"`
	nodeapi.DiskUsage
}

func viewInstances(list []store.Instance) []instanceView {
	out := make([]instanceView, len(list))
	for i, in := range list {
		out[i] = viewInstance(in)
	}
	return out
}
