package panel

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/ports"
	"github.com/berth-dev/berth/internal/store"
)

// TestArrayWriterWritesWhatEncodingJSONWrites streams arrays of several
// lengths, past the flush size too, and compares them byte for byte with
// json.Encoder's encoding of the whole slice: the seed's lists keep their
// bytes when streamed.
func TestArrayWriterWritesWhatEncodingJSONWrites(t *testing.T) {
	type row struct {
		Name string            `json:"Name"`
		Vars map[string]string `json:"Variables"`
		At   time.Time         `json:"CreatedAt"`
	}
	for _, n := range []int{0, 1, 3, 2000} {
		list := make([]row, n)
		for i := range list {
			list[i] = row{Name: strings.Repeat("<&>é", i%7), Vars: map[string]string{"B": "2", "A": "1"},
				At: time.UnixMilli(int64(i)).UTC()}
		}
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(list); err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		out := arrayWriter{w: rec}
		for _, r := range list {
			if err := out.add(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := out.close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(rec.Body.Bytes(), want.Bytes()) {
			t.Errorf("%d rows: streamed %d bytes differ from encoding/json's %d", n, rec.Body.Len(), want.Len())
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%d rows: Content-Type %q", n, ct)
		}
	}
}

// TestInstanceListPatchKeepsTheUnchangedRows checks that a write to one
// instance re-encodes that instance alone: the other rows are the very
// bytes encoded before, while a write the store cannot attribute
// rebuilds them all.
func TestInstanceListPatchKeepsTheUnchangedRows(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := time.Now()
	if err := st.CreateUser(ctx, store.User{ID: "u", Username: "u", Email: "u@example.com", PasswordHash: "x", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateNode(ctx, store.Node{ID: "n", Name: "n", RAMMiB: 1 << 20, DiskMiB: 1 << 20, Address: "10.0.0.1", Port: 1,
		Scheme: "http", Status: store.NodeOnline, CreatedAt: at}, "hash", at); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 4 {
		bs := []ports.Binding{{Container: 1, Host: 1000 + i}}
		in := store.Instance{ID: store.NewID(8), Name: "s", UserID: "u", NodeID: "n", Image: "x", MemoryMiB: 1, CPU: 1,
			DiskMiB: 1, Ports: bs, Primary: bs[0], Variables: map[string]string{}, InternalState: store.StateReady,
			Status: "running", Desired: "running", CreatedAt: at}
		if err := st.CreateInstance(ctx, in); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, in.ID)
	}
	var c instanceList
	if _, err := c.answer(ctx, st); err != nil {
		t.Fatal(err)
	}
	first := func() map[string]*byte {
		m := map[string]*byte{}
		for _, r := range c.rows {
			m[r.id] = &r.json[0]
		}
		return m
	}
	before := first()
	if err := st.SetObserved(ctx, "n", ids[2], store.Observation{Status: "stopped"}); err != nil {
		t.Fatal(err)
	}
	body, err := c.answer(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(body, []byte(`"Status":"stopped"`)) {
		t.Fatalf("the patched list misses the change: %s", body)
	}
	after := first()
	for _, id := range ids {
		if kept := before[id] == after[id]; kept == (id == ids[2]) {
			t.Errorf("instance %s: row kept %v after a write to %s alone", id, kept, ids[2])
		}
	}
	if err := st.SetNodeHealth(ctx, "n", store.NodeOffline, "", 0, at); err != nil {
		t.Fatal(err)
	}
	if _, err := c.answer(ctx, st); err != nil {
		t.Fatal(err)
	}
	rebuilt := first()
	for _, id := range ids {
		if rebuilt[id] == after[id] {
			t.Errorf("instance %s: row kept after its node went offline, which every row shows", id)
		}
	}
}
