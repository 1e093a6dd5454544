package panel

import (
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

// hostnamePattern accepts DNS names; IP addresses are checked separately.
var hostnamePattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)

// listNodes answers the nodes, oldest first.
func (s *Server) listNodes(w http.ResponseWriter, r *http.Request) error {
	lq, err := readListQuery(r)
	if err != nil {
		return err
	}
	return writeList(s, w, r, lq, func(p store.Page) ([]store.Node, error) {
		return s.store.NodePage(r.Context(), p)
	}, func(n store.Node) (any, error) { return viewNode(n), nil })
}

// ParseSize reads a size in MiB: a bare number is MiB, and the suffixes
// M/MB/MiB, G/GB/GiB and T/TB/TiB are accepted, case-insensitively.
func ParseSize(field, s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TIB", 1 << 20}, {"TB", 1 << 20}, {"T", 1 << 20}, {"GIB", 1 << 10}, {"GB", 1 << 10}, {"G", 1 << 10},
		{"MIB", 1}, {"MB", 1}, {"M", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f != f {
		return 0, fault.InvalidField(field, "must be a size in MiB, or with a unit like 8G or 8192M")
	}
	mib := f * float64(mult)
	if mib < 1 || mib > 1<<40 {
		return 0, fault.InvalidField(field, "must be between 1 MiB and 1 EiB")
	}
	return int64(mib), nil
}

// readNewNode validates a nodes/create body.
func readNewNode(b body) (store.Node, error) {
	var n store.Node
	var err error
	if n.Name, err = b.str("name", true, 100); err != nil {
		return n, err
	}
	if n.Tags, err = b.str("tags", false, 500); err != nil {
		return n, err
	}
	if n.Processor, err = b.str("processor", false, 200); err != nil {
		return n, err
	}
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"ram", &n.RAMMiB}, {"disk", &n.DiskMiB}} {
		raw, err := b.str(f.name, true, 32)
		if err != nil {
			return n, err
		}
		if *f.dst, err = ParseSize(f.name, raw); err != nil {
			return n, err
		}
	}
	if n.Address, err = b.str("address", true, 253); err != nil {
		return n, err
	}
	if net.ParseIP(n.Address) == nil && !hostnamePattern.MatchString(n.Address) {
		return n, fault.InvalidField("address", "must be a host name or IP address, without scheme or port")
	}
	port, err := b.integer("port", true, 1, 65535)
	if err != nil {
		return n, err
	}
	n.Port = int(port)
	if n.Scheme, err = b.str("scheme", false, 5); err != nil {
		return n, err
	}
	switch n.Scheme {
	case "":
		n.Scheme = "http"
	case "http", "https":
	default:
		return n, fault.InvalidField("scheme", "must be \"http\" or \"https\"")
	}
	return n, nil
}

// createdNode is the one answer that carries a node's configure key.
type createdNode struct {
	nodeView
	ConfigureKey     string `json:"configureKey"`
	ConfigureCommand string `json:"configureCommand"`
}

func (s *Server) createNode(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBody(r)
	if err != nil {
		return err
	}
	n, err := readNewNode(b)
	if err != nil {
		return err
	}
	n.ID = newUUID()
	n.Status = store.NodeUnconfigured
	n.CreatedAt = time.Now().UTC().Truncate(time.Millisecond)
	key := secret.NewToken("berth_cfg_")
	if err := s.store.CreateNode(r.Context(), n, secret.Hash(key), time.Now().Add(s.cfg.ConfigureKeyTTL)); err != nil {
		return err
	}
	s.audit(r, "node.create", n.ID)
	writeJSON(w, http.StatusCreated, s.withConfigureKey(r, n, key))
	return nil
}

// withConfigureKey is the answer that carries a node's new configure key,
// and the command to run on the node machine.
func (s *Server) withConfigureKey(r *http.Request, n store.Node, key string) createdNode {
	return createdNode{
		nodeView:         viewNode(n),
		ConfigureKey:     key,
		ConfigureCommand: fmt.Sprintf("berth node configure -panel %s -key %s", s.publicURL(r), key),
	}
}

// renewConfigureKey issues a node a fresh one-time configure key: for a
// key that expired unused, or a machine that must be set up again. The old
// key stops working; the node's current token keeps working until the new
// key is used.
func (s *Server) renewConfigureKey(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	key := secret.NewToken("berth_cfg_")
	if err := s.store.RenewConfigureKey(r.Context(), id, secret.Hash(key), time.Now().Add(s.cfg.ConfigureKeyTTL)); err != nil {
		return err
	}
	n, err := s.store.NodeByID(r.Context(), id)
	if err != nil {
		return err
	}
	s.audit(r, "node.configure-key", id)
	writeJSON(w, http.StatusOK, s.withConfigureKey(r, n, key))
	return nil
}

// publicURL is the panel's address as a node should reach it.
func (s *Server) publicURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) deleteNode(w http.ResponseWriter, r *http.Request) error {
	id, err := bodyID(r, "nodeId")
	if err != nil {
		return err
	}
	if err := s.store.DeleteNode(r.Context(), id); err != nil {
		return seedLookup{err}
	}
	s.audit(r, "node.delete", id)
	writeJSON(w, s.cfg.Mode.status(nodeDeleted), messageView{"The node has been deleted."})
	return nil
}

// configureNode exchanges a one-time configure key for the node's token,
// and mints the panel token the node calls the panel with (SFTP), of
// which only the hash is kept. It sits outside /api: the configure key is
// the credential.
func (s *Server) configureNode(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBody(r)
	if err != nil {
		return err
	}
	key, err := b.str("configureKey", true, 128)
	if err != nil {
		return err
	}
	token := secret.NewToken("berth_node_")
	panelToken := secret.NewToken(PanelTokenPrefix)
	n, err := s.store.ConfigureNode(r.Context(), secret.Hash(key), token, secret.Hash(panelToken), time.Now())
	if err != nil {
		return err
	}
	s.log.Info("node configured", "node_id", n.ID, "ip", clientIP(r))
	s.cfg.KickNode(n.ID)
	writeJSON(w, http.StatusOK, nodeapi.ConfigureResponse{NodeID: n.ID, Token: token, PanelToken: panelToken,
		Address: n.Address, Port: n.Port})
	return nil
}
