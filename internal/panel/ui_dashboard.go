package panel

import (
	"html/template"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

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
	// Rows is the list's table rows, written by cardRows.
	Rows   template.HTML
	Count  int
	Filter bool
}

// dashboardPage lists the viewer's instances, owned and shared.
func (s *Server) dashboardPage(w http.ResponseWriter, r *http.Request, v *web.Viewer) error {
	list, err := s.store.InstanceCardsOfUser(r.Context(), v.ID)
	if err != nil {
		return err
	}
	p := callerOf(r)
	cards := make([]instanceCard, len(list))
	for i, c := range list {
		held := access.Held(p, access.Instance{ID: c.ID, OwnerID: c.UserID, Granted: c.Granted})
		cards[i] = viewStoreCard(c, c.UserID != v.ID, slices.Contains(held, access.ConsoleRead))
	}
	return s.render(w, r, "dashboard", web.Page{Title: "Your instances", Section: "instances", Viewer: v,
		Data: dashboardView{Rows: cardRows(cards), Count: len(cards), Filter: len(cards) > filterAbove}})
}

// viewCard shapes an instance for a list.
func viewCard(in store.Instance, shared, stats bool) instanceCard {
	return viewStoreCard(in.Card(nil), shared, stats)
}

// viewStoreCard shapes a stored card for a list. While the node is
// offline, the power status is unknown, and says so, as viewInstance does.
func viewStoreCard(c store.InstanceCard, shared, stats bool) instanceCard {
	status := c.Status
	if c.Node.Status == store.NodeOffline {
		status = "offline"
	}
	return instanceCard{ID: c.ID, Name: c.Name, Status: status, Node: c.Node.Name,
		Address: net.JoinHostPort(c.Node.Address, strconv.Itoa(c.PrimaryHost)), MemoryMiB: c.MemoryMiB,
		CPU: c.CPU, Shared: shared, Stats: stats}
}

// cardRows writes the instance list's rows. They are the one part of a
// page that grows with the fleet, so they are written here rather than by
// html/template, whose reflective call of an escaper for each of a row's
// dozen actions cost about 20 µs a row, most of the page's time with 1,000
// instances (BENCHMARKS.md, "Web UI"). Every value is escaped; the column
// labels of the phone layout come from the stylesheet, to keep rows small.
func cardRows(cards []instanceCard) template.HTML {
	var b strings.Builder
	b.Grow(len(cards) * 420)
	esc := template.HTMLEscapeString
	for _, c := range cards {
		id := esc(c.ID)
		b.WriteString(`<tr data-instance="` + id + `"`)
		if c.Stats {
			b.WriteString(` data-stats`)
		}
		b.WriteString(`><td><a href="/instances/` + esc(url.PathEscape(c.ID)) + `">` + esc(c.Name) + `</a>`)
		if c.Shared {
			b.WriteString(` <span class="muted">(shared)</span>`)
		}
		status := esc(c.Status)
		b.WriteString(`</td><td><span class="badge state-` + status + `" data-status>` + status + `</span></td>` +
			`<td><code>` + esc(c.Address) + `</code> <button type="button" class="small" data-copy-prev aria-label="Copy address">Copy</button></td>` +
			`<td class="num"><span data-memory>–</span> / ` + web.FormatBytes(c.MemoryMiB<<20) + `</td><td class="num"><span data-cpu>–</span>`)
		if c.CPU > 0 {
			b.WriteString(` / ` + strconv.FormatFloat(c.CPU, 'f', -1, 64) + ` CPU`)
		}
		b.WriteString(`</td><td>` + esc(c.Node) + "</td></tr>\n")
	}
	return template.HTML(b.String())
}
