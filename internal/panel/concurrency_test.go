package panel_test

import (
	"strings"
	"sync"
	"testing"
)

// race sends the n bodies at once (released together) to method path and
// returns the answers in the order of bodies.
func (p *testPanel) race(method, path string, bodies []any) []response {
	p.t.Helper()
	out := make([]response, len(bodies))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, b := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i] = p.send(p.key, method, path, b)
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// countCodes tallies the status codes of rs.
func countCodes(rs []response) map[int]int {
	n := map[int]int{}
	for _, r := range rs {
		n[r.code]++
	}
	return n
}

func TestConcurrentCreateUserWithOneNameCreatesExactlyOne(t *testing.T) {
	for _, c := range []struct {
		name string
		body func(i int) map[string]any
	}{
		{"username", func(i int) map[string]any {
			return map[string]any{"username": "racer", "email": "racer" + itoa(i) + "@example.com", "password": "correct horse"}
		}},
		{"email differing in case", func(i int) map[string]any {
			email := "Racer@Example.com"
			if i%2 == 1 {
				email = strings.ToUpper(email)
			} else if i%3 == 0 {
				email = strings.ToLower(email)
			}
			return map[string]any{"username": "racer" + itoa(i), "email": email, "password": "correct horse"}
		}},
		{"userId", func(i int) map[string]any {
			return map[string]any{"username": "racer" + itoa(i), "email": "racer" + itoa(i) + "@example.com", "password": "correct horse", "userId": "same-id"}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, p *testPanel) {
				bodies := make([]any, 20)
				for i := range bodies {
					bodies[i] = c.body(i)
				}
				rs := p.race("POST", "/api/auth/create-user", bodies)
				if n := countCodes(rs); n[201] != 1 || n[409] != 19 || len(n) != 2 {
					t.Fatalf("20 creates of one %s: codes %v, want one 201 and nineteen 409", c.name, n)
				}
				for _, r := range rs {
					if r.code == 409 {
						r.errorMessage(t)
					}
				}
				if got := p.expect(200, "GET", "/api/users", nil).array(t); len(got) != 1 {
					t.Errorf("users = %d, want 1", len(got))
				}
				if s := p.snapshot(); s.audit != 1 {
					t.Errorf("audit entries = %d, want 1", s.audit)
				}
			})
		})
	}
}

func TestConcurrentDeploysOfOneHostPortCreateExactlyOne(t *testing.T) {
	forEachBackend(t, func(t *testing.T, p *testPanel) {
		user, node := setup(p)
		bodies := make([]any, 20)
		for i := range bodies {
			b := deployBody(user, node, itoa(30000+i)+":25565", "25565")
			b["memory"] = 64
			bodies[i] = b
		}
		rs := p.race("POST", "/api/instances/deploy", bodies)
		if n := countCodes(rs); n[201] != 1 || n[400] != 19 || len(n) != 2 {
			t.Fatalf("20 deploys of host port 25565: codes %v, want one 201 and nineteen 400", n)
		}
		for _, r := range rs {
			if r.code == 400 {
				if msg := r.errorMessage(t); !strings.Contains(msg, "ports") || !strings.Contains(msg, "25565") {
					t.Errorf("rejected deploy: %q, want it to name ports and 25565", msg)
				}
			}
		}
		if got := p.expect(200, "GET", "/api/instances", nil).array(t); len(got) != 1 {
			t.Errorf("instances = %d, want 1", len(got))
		}
	})
}

func TestConcurrentDeploysOfDistinctPortsAllSucceedWithoutSharing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, p *testPanel) {
		user, node := setup(p)
		other, _ := p.createNode("n2", 8192, 10240)
		bodies := make([]any, 30)
		for i := range bodies {
			// Two ports each, all distinct on the node; odd ones also overlap
			// the first node's ports on the second node, which is allowed.
			target := node
			if i%2 == 1 {
				target = other
			}
			b := deployBody(user, target, itoa(20000+2*i)+","+itoa(20000+2*i+1), itoa(20000+2*i))
			b["memory"], b["disk"] = 128, 128
			bodies[i] = b
		}
		rs := p.race("POST", "/api/instances/deploy", bodies)
		if n := countCodes(rs); n[201] != 30 {
			for _, r := range rs {
				if r.code != 201 {
					t.Logf("%d %s", r.code, r.body)
				}
			}
			t.Fatalf("30 deploys of distinct ports: codes %v, want thirty 201", n)
		}
		list := p.expect(200, "GET", "/api/instances", nil).array(t)
		if len(list) != 30 {
			t.Fatalf("instances = %d, want 30", len(list))
		}
		taken := map[string]string{}
		for _, in := range list {
			nodeID := in["Node"].(map[string]any)["id"].(string)
			for _, b := range strings.Split(in["Ports"].(string), ",") {
				_, host, _ := strings.Cut(b, ":")
				key := nodeID + "/" + host
				if prev, dup := taken[key]; dup {
					t.Errorf("host port %s on node %s is shared by %s and %s", host, nodeID, prev, in["Id"])
				}
				taken[key] = in["Id"].(string)
			}
		}
		if len(taken) != 60 {
			t.Errorf("allocated host ports = %d, want 60", len(taken))
		}
	})
}

func TestConcurrentDeploysNeverOverfillANode(t *testing.T) {
	forEachBackend(t, func(t *testing.T, p *testPanel) {
		user, node := setup(p) // 8192 MiB
		bodies := make([]any, 20)
		for i := range bodies {
			b := deployBody(user, node, itoa(21000+i), itoa(21000+i))
			b["memory"] = 1024 // room for eight
			bodies[i] = b
		}
		rs := p.race("POST", "/api/instances/deploy", bodies)
		if n := countCodes(rs); n[201] != 8 || n[400] != 12 {
			t.Fatalf("20 deploys of 1 GiB on an 8 GiB node: codes %v, want eight 201 and twelve 400", n)
		}
	})
}
