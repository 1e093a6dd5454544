package panel

import (
	"net"
	"net/http"
	"slices"
	"strconv"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/web"
)

// filterAbove is how many instances a list holds before the page offers a
// filter.
const filterAbove = 20

// instanceCard is one instance on the dashboard.
type instanceCard struct {
	ID, Name, Status, Node string
	// Address is where players connect: the node's address and the
	// primary host port.
	Address   string
	MemoryMiB int64
	CPU       float64
	// Shared marks an instance the viewer is a subuser of.
	Shared bool
	// Stats is set when the viewer may read its usage (console.read).
	Stats bool
}

// dashboardView is the data of the instance list.
type dashboardView struct {
	Instances []instanceCard
	Filter    bool
}

// dashboardPage lists the viewer's instances, owned and shared.
func (s *Server) dashboardPage(w http.ResponseWriter, r *http.Request, v *web.Viewer) error {
	list, err := s.store.InstancesOfUser(r.Context(), v.ID)
	if err != nil {
		return err
	}
	p := callerOf(r)
	cards := make([]instanceCard, len(list))
	for i, sh := range list {
		cards[i] = viewCard(sh.Instance, sh.UserID != v.ID, slices.Contains(access.Held(p, accessInstance(sh)), access.ConsoleRead))
	}
	return s.render(w, r, "dashboard", web.Page{Title: "Your instances", Section: "instances", Viewer: v,
		Data: dashboardView{Instances: cards, Filter: len(cards) > filterAbove}})
}

// viewCard shapes an instance for a list.
func viewCard(in store.Instance, shared, stats bool) instanceCard {
	return instanceCard{ID: in.ID, Name: in.Name, Status: viewInstance(in).Status, Node: in.Node.Name,
		Address: net.JoinHostPort(in.Node.Address, strconv.Itoa(in.Primary.Host)), MemoryMiB: in.MemoryMiB,
		CPU: in.CPU, Shared: shared, Stats: stats}
}
