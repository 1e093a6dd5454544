package panel

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"sync"

	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/store"
)

// instanceList caches the answer of GET /api/instances (no filter, no
// page) and, beside it, each instance's encoded element in list order.
// After a write it asks the store which instances the writes since
// changed and re-reads, re-encodes and puts in place only those, instead
// of the whole list: the reconciler writes an instance at a time, and
// rebuilding a list of ten thousand after each cost 100 ms. A write the
// store cannot attribute to instances (a node going offline shows in all
// of its instances) rebuilds it.
//
// Past maxCachedInstances it caches nothing, and the list is streamed
// from the database at each request: the cache must not make the panel's
// memory grow with the fleet.
type instanceList struct {
	// mu is held through a rebuild or a patch, so that concurrent readers
	// after a write wait for one to do the work rather than all do it.
	mu    sync.Mutex
	valid bool
	// version is the store's Version the cache is as new as, at least.
	version uint64
	rows    []encodedInstance
	// created is each cached instance's creation time in Unix
	// milliseconds: with the id, its place in rows.
	created map[string]int64
	body    []byte
}

// encodedInstance is an instance's element of the list.
type encodedInstance struct {
	at   int64
	id   string
	json []byte
}

const (
	// maxCachedInstances bounds what the cache holds: about 600 bytes
	// each, 12 MB at most.
	maxCachedInstances = 20000
	// maxPatch is how many changed instances are patched in; past it, a
	// rebuild reads the same rows in fewer queries.
	maxPatch = 500
)

// errNotCached says that the list is too long to cache.
var errNotCached = errors.New("instance list too long to cache")

// answer returns the list's body as of now at least, or errNotCached.
func (c *instanceList) answer(ctx context.Context, st *store.Store) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.valid {
		ids, now, ok := st.InstancesChangedSince(c.version)
		if ok && len(ids) <= maxPatch {
			if len(ids) > 0 {
				if err := c.patch(ctx, st, ids); err != nil {
					c.valid = false
					return nil, err
				}
			}
			c.version = now
			return c.body, nil
		}
	}
	c.valid = false
	if err := c.rebuild(ctx, st); err != nil {
		return nil, err
	}
	return c.body, nil
}

// rebuild reads and encodes the whole list.
func (c *instanceList) rebuild(ctx context.Context, st *store.Store) error {
	// The Version is read first, so that the rows read after it are at
	// least that new.
	v := st.Version()
	n, err := st.CountInstances(ctx)
	if err != nil {
		return err
	}
	if n > maxCachedInstances {
		c.rows, c.created, c.body = nil, nil, nil
		return errNotCached
	}
	rows := make([]encodedInstance, 0, n)
	created := make(map[string]int64, n)
	p := store.Page{Limit: streamBatch}
	for {
		list, err := st.InstancePage(ctx, store.InstanceFilter{}, p)
		if err != nil {
			return err
		}
		for _, in := range list {
			e, err := encodeInstance(in)
			if err != nil {
				return err
			}
			rows = append(rows, e)
			created[e.id] = e.at
		}
		if len(list) < p.Limit {
			break
		}
		p.After = list[len(list)-1].Cursor()
	}
	c.rows, c.created, c.version, c.valid = rows, created, v, true
	c.assemble()
	return nil
}

// patch re-reads the instances ids and puts each in its place, or takes
// it out when it is gone.
func (c *instanceList) patch(ctx context.Context, st *store.Store, ids []string) error {
	done := make(map[string]bool, len(ids))
	for _, id := range ids {
		if done[id] {
			continue
		}
		done[id] = true
		in, err := st.InstanceByID(ctx, id)
		if fault.Is(err, fault.NotExist) {
			c.remove(id)
			continue
		}
		if err != nil {
			return err
		}
		e, err := encodeInstance(in)
		if err != nil {
			return err
		}
		c.put(e)
	}
	if len(c.rows) > maxCachedInstances {
		return errNotCached
	}
	c.assemble()
	return nil
}

// search returns where the row of (at, id) is, or would go, in rows: the
// list's order, ids compared bytewise as the store sorts them.
func (c *instanceList) search(at int64, id string) int {
	return sort.Search(len(c.rows), func(i int) bool {
		r := c.rows[i]
		return r.at > at || (r.at == at && r.id >= id)
	})
}

// put replaces e's row, or inserts it in its place.
func (c *instanceList) put(e encodedInstance) {
	i := c.search(e.at, e.id)
	if i < len(c.rows) && c.rows[i].id == e.id {
		c.rows[i] = e
		return
	}
	c.rows = append(c.rows, encodedInstance{})
	copy(c.rows[i+1:], c.rows[i:])
	c.rows[i] = e
	c.created[e.id] = e.at
}

// remove takes id's row out, if it is there.
func (c *instanceList) remove(id string) {
	at, ok := c.created[id]
	if !ok {
		return
	}
	delete(c.created, id)
	i := c.search(at, id)
	if i < len(c.rows) && c.rows[i].id == id {
		c.rows = append(c.rows[:i], c.rows[i+1:]...)
	}
}

// assemble joins the rows into the answer: what encoding/json writes for
// the whole slice.
func (c *instanceList) assemble() {
	size := 3 + len(c.rows)
	for _, r := range c.rows {
		size += len(r.json)
	}
	// A new slice every time: a body being written to a client while
	// this runs must stay as it was.
	body := make([]byte, 0, size)
	body = append(body, '[')
	for i, r := range c.rows {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, r.json...)
	}
	c.body = append(body, "]\n"...)
}

// encodeInstance encodes in as the list shows it.
func encodeInstance(in store.Instance) (encodedInstance, error) {
	b, err := json.Marshal(viewInstance(in))
	if err != nil {
		return encodedInstance{}, err
	}
	cur := in.Cursor()
	return encodedInstance{at: cur.At, id: in.ID, json: b}, nil
}

// serveInstanceList answers the whole instance list from the cache, or
// streams it when it is too long to cache.
func (s *Server) serveInstanceList(w http.ResponseWriter, r *http.Request, lq listQuery) error {
	body, err := s.instanceCache.answer(r.Context(), s.store)
	if errors.Is(err, errNotCached) {
		return writeList(s, w, r, lq, func(p store.Page) ([]store.Instance, error) {
			return s.store.InstancePage(r.Context(), store.InstanceFilter{}, p)
		}, viewInstanceRow)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
	return nil
}

// viewInstanceRow is viewInstance for writeList.
func viewInstanceRow(in store.Instance) (any, error) { return viewInstance(in), nil }
