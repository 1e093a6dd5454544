package panel_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/panel"
	"github.com/berth-dev/berth/internal/secret"
	"github.com/berth-dev/berth/internal/store"
)

// sendKeyed makes a request with credential key and an Idempotency-Key.
func (p *testPanel) sendKeyed(key, idem, method, path string, body any) response {
	p.t.Helper()
	rd, ct := encodeBody(p.t, body)
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("x-api-key", key)
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	rec := httptest.NewRecorder()
	p.handler.ServeHTTP(rec, req)
	return response{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// deployedID is the instance id of a deploy's answer.
func deployedID(t *testing.T, r response) string {
	t.Helper()
	if r.code != http.StatusCreated {
		t.Fatalf("deploy: status %d, want 201: %s", r.code, r.body)
	}
	inst, _ := r.object(t)["instance"].(map[string]any)
	id, _ := inst["Id"].(string)
	if id == "" {
		t.Fatalf("deploy answered no instance Id: %s", r.body)
	}
	return id
}

func (p *testPanel) instanceCount() int {
	p.t.Helper()
	list, err := p.st.ListInstances(context.Background())
	if err != nil {
		p.t.Fatal(err)
	}
	return len(list)
}

// idempotentSetup is a panel with a user and a node of room for many
// deploys.
func idempotentSetup(t *testing.T) (p *testPanel, user, node string) {
	t.Helper()
	p = newPanel(t, panel.Config{})
	user = p.createUser("alice")
	node, _ = p.createNode("n1", 1<<20, 1<<20)
	return p, user, node
}

func TestDeployRetriedWithItsIdempotencyKeyGetsTheSameInstance(t *testing.T) {
	p, user, node := idempotentSetup(t)
	body := deployBody(user, node, "25565", "25565")
	first := p.sendKeyed(p.key, "deploy-1", "POST", "/api/instances/deploy", body)
	id := deployedID(t, first)
	// The same body with its fields in another order is the same request.
	reordered := `{"user":"` + user + `","nodeId":"` + node + `","ports":"25565","primary":"25565","name":"survival",` +
		`"image":"ghcr.io/berth-dev/game:1","memory":512,"cpu":1,"disk":1024}`
	again := p.sendKeyed(p.key, "deploy-1", "POST", "/api/instances/deploy", json.RawMessage(reordered))
	if got := deployedID(t, again); got != id {
		t.Errorf("retry created instance %s, want the first's %s", got, id)
	}
	if string(again.body) != strings.TrimSpace(string(first.body)) && string(again.body) != string(first.body) {
		t.Errorf("retry answered\n%s\nwant the first answer\n%s", again.body, first.body)
	}
	if again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry not marked Idempotent-Replayed: %v", again.header)
	}
	if n := p.instanceCount(); n != 1 {
		t.Errorf("instances = %d, want 1", n)
	}

	// The same key with another body is refused, naming the header.
	other := deployBody(user, node, "25566", "25566")
	r := p.sendKeyed(p.key, "deploy-1", "POST", "/api/instances/deploy", other)
	if r.code != http.StatusConflict || !strings.HasPrefix(r.errorMessage(t), "Idempotency-Key: ") {
		t.Errorf("same key, other body: %d %s; want 409 naming Idempotency-Key", r.code, r.body)
	}
	// Without a key, or with a new one, a deploy is a new instance.
	if got := deployedID(t, p.sendKeyed(p.key, "deploy-2", "POST", "/api/instances/deploy", other)); got == id {
		t.Errorf("a new key returned the first instance")
	}
	if n := p.instanceCount(); n != 2 {
		t.Errorf("instances = %d, want 2", n)
	}
}

func TestIdempotencyKeyIsNotSharedBetweenCredentials(t *testing.T) {
	p, user, node := idempotentSetup(t)
	other := secret.NewToken("berth_")
	if err := p.st.CreateAPIKey(context.Background(), store.APIKey{ID: store.NewID(8), Name: "other",
		KeyHash: secret.Hash(other), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	body := deployBody(user, node, "25565", "25565")
	mine := deployedID(t, p.sendKeyed(p.key, "k", "POST", "/api/instances/deploy", body))
	body["ports"], body["primary"] = "25566", "25566"
	theirs := deployedID(t, p.sendKeyed(other, "k", "POST", "/api/instances/deploy", body))
	if mine == theirs {
		t.Errorf("another credential's key %q answered my instance %s", "k", mine)
	}
}

func TestConcurrentDeploysWithOneIdempotencyKeyCreateOneInstance(t *testing.T) {
	p, user, node := idempotentSetup(t)
	body := deployBody(user, node, "25565", "25565")
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			r := p.sendKeyed(p.key, "race", "POST", "/api/instances/deploy", body)
			if r.code == http.StatusCreated {
				ids[i] = deployedID(t, r)
			} else {
				t.Errorf("racing deploy %d: %d %s", i, r.code, r.body)
			}
		})
	}
	wg.Wait()
	for i, id := range ids {
		if id != ids[0] {
			t.Errorf("racing deploy %d answered %s, deploy 0 %s", i, id, ids[0])
		}
	}
	if n := p.instanceCount(); n != 1 {
		t.Errorf("instances = %d, want 1", n)
	}
}

// TestDeployRetryAfterALostAnswerFindsTheInstance: a panel stopped after
// the create's commit, before it kept the answer, still answers the retry
// with the instance, for the record is written in the create's
// transaction.
func TestDeployRetryAfterALostAnswerFindsTheInstance(t *testing.T) {
	p, user, node := idempotentSetup(t)
	body := deployBody(user, node, "25565", "25565")
	id := deployedID(t, p.sendKeyed(p.key, "lost", "POST", "/api/instances/deploy", body))
	// Stand for the lost answer: the record keeps only its instance.
	if err := p.st.SaveIdempotentAnswer(context.Background(), store.IdempotencyKey{Credential: "key:" + p.keyID, Key: "lost"},
		0, nil); err != nil {
		t.Fatal(err)
	}
	again := p.sendKeyed(p.key, "lost", "POST", "/api/instances/deploy", body)
	if got := deployedID(t, again); got != id {
		t.Errorf("retry after a lost answer answered %s, want %s", got, id)
	}
	if n := p.instanceCount(); n != 1 {
		t.Errorf("instances = %d, want 1", n)
	}
}

func TestCreateUserRetriedWithItsIdempotencyKeyCreatesOneUser(t *testing.T) {
	p := newPanel(t, panel.Config{})
	body := map[string]any{"username": "bob", "email": "bob@example.com", "password": "correct horse"}
	first := p.sendKeyed(p.key, "user-1", "POST", "/api/auth/create-user", body)
	again := p.sendKeyed(p.key, "user-1", "POST", "/api/auth/create-user", body)
	if first.code != http.StatusCreated || again.code != http.StatusCreated || string(first.body) != string(again.body) {
		t.Errorf("create-user twice with one key: %d %s, then %d %s; want one 201 answer twice",
			first.code, first.body, again.code, again.body)
	}
	users, err := p.st.ListUsers(context.Background())
	if err != nil || len(users) != 1 {
		t.Errorf("users = %d, %v; want 1", len(users), err)
	}
	body["email"] = "other@example.com"
	if r := p.sendKeyed(p.key, "user-1", "POST", "/api/auth/create-user", body); r.code != http.StatusConflict ||
		!strings.HasPrefix(r.errorMessage(t), "Idempotency-Key: ") {
		t.Errorf("same key, other body: %d %s; want 409 naming Idempotency-Key", r.code, r.body)
	}
	// A create that failed keeps no answer: the corrected request may use
	// the key.
	bad := map[string]any{"username": "carol", "email": "not an email", "password": "correct horse"}
	if r := p.sendKeyed(p.key, "user-2", "POST", "/api/auth/create-user", bad); r.code != http.StatusBadRequest {
		t.Fatalf("bad create-user: %d %s", r.code, r.body)
	}
	bad["email"] = "carol@example.com"
	if r := p.sendKeyed(p.key, "user-2", "POST", "/api/auth/create-user", bad); r.code != http.StatusCreated {
		t.Errorf("corrected create-user with the failed one's key: %d %s, want 201", r.code, r.body)
	}
}

func TestIdempotencyKeyMustBePrintableAndShort(t *testing.T) {
	p, user, node := idempotentSetup(t)
	for _, key := range []string{strings.Repeat("k", 256), "tab\there", "é"} {
		r := p.sendKeyed(p.key, key, "POST", "/api/instances/deploy", deployBody(user, node, "25565", "25565"))
		if r.code != http.StatusBadRequest || !strings.HasPrefix(r.errorMessage(t), "Idempotency-Key: ") {
			t.Errorf("key %q: %d %s; want 400 naming Idempotency-Key", key, r.code, r.body)
		}
	}
	if n := p.instanceCount(); n != 0 {
		t.Errorf("instances = %d, want 0", n)
	}
}

// TestChangesOfOneInstanceWakeOnlyItsNodesWorker: a deploy, a suspension
// or a delete kicks the node it concerns, never the whole fleet.
func TestChangesOfOneInstanceWakeOnlyItsNodesWorker(t *testing.T) {
	var mu sync.Mutex
	var kicked []string
	p := newPanel(t, panel.Config{
		Kick: func() { mu.Lock(); kicked = append(kicked, "*"); mu.Unlock() },
		KickNode: func(id string) {
			mu.Lock()
			kicked = append(kicked, id)
			mu.Unlock()
		},
	})
	user := p.createUser("alice")
	p.createNode("other", 4096, 4096)
	node, _ := p.createNode("n1", 4096, 4096)
	id := p.deploy(deployBody(user, node, "25565", "25565"))
	p.expect(200, "POST", "/api/instances/suspend/"+id, nil)
	p.expect(modeCodes[p.mode].instanceDeleted, "DELETE", "/api/instance/delete", map[string]any{"id": id})
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(kicked) != fmt.Sprint([]string{node, node, node}) {
		t.Errorf("kicks = %v, want node %s three times", kicked, node)
	}
}
