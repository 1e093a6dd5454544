package panel

import (
	"errors"
	"net/http"
	"time"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/ports"
	"github.com/berth-dev/berth/internal/store"
)

// Limits on what one deploy may ask for.
const (
	maxMemoryMiB = 1 << 24 // 16 TiB
	maxDiskMiB   = 1 << 30 // 1 EiB
	maxCPU       = 1024
)

// deployRequest is a validated deploy body.
type deployRequest struct {
	instance store.Instance
	template *images.Template
}

// readDeploy validates a deploy body: every failure names its field. It
// does not touch the database; the store checks what only it can (the
// user, the node, capacity and free ports) inside one transaction.
func readDeploy(b body) (deployRequest, error) {
	var in store.Instance
	var err error
	if in.Name, err = b.str("name", true, 100); err != nil {
		return deployRequest{}, err
	}
	if in.Image, err = b.str("image", true, 255); err != nil {
		return deployRequest{}, err
	}
	if in.MemoryMiB, err = b.integer("memory", true, 1, maxMemoryMiB); err != nil {
		return deployRequest{}, err
	}
	if in.CPU, err = b.number("cpu", true, 0.01, maxCPU); err != nil {
		return deployRequest{}, err
	}
	if in.DiskMiB, err = b.integer("disk", false, 0, maxDiskMiB); err != nil {
		return deployRequest{}, err
	}
	rawPorts, err := b.str("ports", true, 2000)
	if err != nil {
		return deployRequest{}, err
	}
	if in.Ports, err = ports.Parse(rawPorts); err != nil {
		return deployRequest{}, err
	}
	if in.NodeID, err = b.str("nodeId", true, maxID); err != nil {
		return deployRequest{}, err
	}
	if in.UserID, err = b.str("user", true, maxID); err != nil {
		return deployRequest{}, err
	}
	if in.PrimaryRaw, err = b.str("primary", true, 20); err != nil {
		return deployRequest{}, err
	}
	if in.Primary, err = ports.Primary(in.PrimaryRaw, in.Ports); err != nil {
		return deployRequest{}, err
	}
	if in.Variables, err = b.variables("variables"); err != nil {
		return deployRequest{}, err
	}
	return deployRequest{instance: in}, nil
}

// resolveImage decides the template and the Docker image of a deploy.
// image is a template's Id or Name, or a Docker reference; with imagename,
// image is the Docker reference and imagename names the template.
func (s *Server) resolveImage(r *http.Request, b body, req *deployRequest) error {
	imagename, err := b.str("imagename", false, 255)
	if err != nil {
		return err
	}
	ref, field := req.instance.Image, "image"
	if imagename != "" {
		ref, field = imagename, "imagename"
	}
	row, err := s.store.TemplateByRef(r.Context(), ref)
	switch {
	case err == nil:
		t, err := images.Decode(row.Doc)
		if err != nil {
			return err
		}
		t.ID, t.Name = row.ID, row.Name
		req.template = &t
		req.instance.TemplateID = t.ID
		if imagename == "" || req.instance.Image == t.ID || req.instance.Image == t.Name {
			req.instance.Image = t.Image
		}
	case !fault.Is(err, fault.NotExist):
		return err
	case imagename != "":
		return fault.InvalidField(field, "no image template is named %q", imagename)
	}
	if !images.IsImageRef(req.instance.Image) {
		return fault.InvalidField("image", "%q is neither an image template from /api/images nor a Docker image reference", req.instance.Image)
	}
	if req.template != nil {
		return checkTemplateDeploy(req.template, &req.instance)
	}
	return nil
}

// checkTemplateDeploy holds a deploy to its template: the Docker image
// must be one the template offers, and the variables must keep its rules.
// It replaces the deploy's variables with the checked ones, defaults
// filled in.
func checkTemplateDeploy(t *images.Template, in *store.Instance) error {
	if !t.AllowsImage(in.Image) {
		return fault.InvalidField("image", "%q is not an image of template %s (its Image or one of its AltImages)", in.Image, t.Name)
	}
	vars, err := t.CheckVariables(in.Variables)
	if err != nil {
		return err
	}
	// A value lands in the download URLs too; refuse one that breaks them
	// now rather than fail the install later.
	if _, err := t.RenderDownloads(vars); err != nil {
		return fault.InvalidField("variables", "the values make a download invalid: %s", fault.Message(err))
	}
	in.Variables = vars
	return nil
}

// deployed is the answer to a deploy.
type deployed struct {
	Message  string       `json:"message"`
	VolumeID string       `json:"volumeId"`
	State    string       `json:"state"`
	Instance instanceView `json:"instance"`
}

func (s *Server) deploy(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBody(r)
	if err != nil {
		return err
	}
	key, err := s.idempotencyKeyOf(r, b)
	if err != nil {
		return err
	}
	// A retry is answered before its body is judged again: what it
	// created stands even if the node since filled up.
	if key != nil {
		if done, err := s.replayDeploy(w, r, *key); done || err != nil {
			return err
		}
	}
	req, err := readDeploy(b)
	if err == nil {
		err = s.resolveImage(r, b, &req)
	}
	if err != nil {
		return err
	}
	in := req.instance
	in.BackupLimit = s.cfg.DefaultBackupLimit
	if b.present("backupLimit") {
		limit, err := b.integer("backupLimit", true, 0, MaxBackupLimit)
		if err != nil {
			return err
		}
		in.BackupLimit = int(limit)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	in.InternalState = store.StateInstalling
	in.Status = nodeapi.StatusOffline
	in.Desired = nodeapi.DesiredRunning
	in.Generation = 1
	in.CreatedAt, in.UpdatedAt = now, now
	in.InstallDeadline = now.Add(s.cfg.InstallTimeout)
	// 64 random bits: a collision is vanishingly rare, and the primary key
	// turns one into a retry rather than an overwrite.
	for range 3 {
		in.ID = store.NewID(8)
		if key != nil {
			err = s.store.CreateInstanceOnce(r.Context(), in, *key)
		} else {
			err = s.store.CreateInstance(r.Context(), in)
		}
		if !fault.Is(err, fault.Exist) {
			break
		}
	}
	if errors.Is(err, store.ErrIdempotencyKeyTaken) {
		// A request with the same key committed first: its instance is the
		// answer.
		if done, err := s.replayDeploy(w, r, *key); done || err != nil {
			return err
		}
	}
	if err != nil {
		return err
	}
	created, err := s.store.InstanceByID(r.Context(), in.ID)
	if err != nil {
		return err
	}
	s.auditInstance(r, "instance.deploy", in.ID)
	s.cfg.KickNode(in.NodeID)
	answer := deployedOf(created)
	if key != nil {
		s.saveAnswer(r, *key, http.StatusCreated, answer)
	}
	writeJSON(w, http.StatusCreated, answer)
	return nil
}

// deployedOf is the answer to the deploy that created in.
func deployedOf(in store.Instance) deployed {
	return deployed{
		Message:  "Container creation initiated. State will be updated asynchronously.",
		VolumeID: in.ID,
		State:    store.StateInstalling,
		Instance: viewInstance(in),
	}
}

// replayDeploy answers a deploy whose key is already recorded, and reports
// whether it did. The kept answer is sent again; a record without one (the
// panel stopped between the commit and the answer) is answered from the
// instance it names, as it is now.
func (s *Server) replayDeploy(w http.ResponseWriter, r *http.Request, key store.IdempotencyKey) (bool, error) {
	rec, found, err := s.idempotentRecord(r.Context(), key)
	if err != nil || !found {
		return false, err
	}
	if len(rec.Answer) > 0 {
		replay(w, rec)
		return true, nil
	}
	in, err := s.store.InstanceByID(r.Context(), rec.ResourceID)
	if fault.Is(err, fault.NotExist) {
		return true, fault.New(fault.Conflict, "%s: the instance this key created has since been deleted", idempotencyHeader)
	}
	if err != nil {
		return true, err
	}
	answer := deployedOf(in)
	s.saveAnswer(r, key, http.StatusCreated, answer)
	w.Header().Set(replayedHeader, "true")
	writeJSON(w, http.StatusCreated, answer)
	return true, nil
}
