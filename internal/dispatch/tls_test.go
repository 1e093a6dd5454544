package dispatch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/berth-dev/berth/internal/store"
)

func TestClientForVerifiesHTTPSNodesWithTheGivenAuthority(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"version":"test","docker":true,"instances":0}`))
	}))
	defer srv.Close()
	host, portText, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portText)
	n := store.Node{Scheme: "https", Address: host, Port: port, Token: "berth_node_test"}

	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	trusted := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if _, err := ClientFor(n, trusted).Health(context.Background()); err != nil {
		t.Errorf("health of an HTTPS node signed by the given authority: %v", err)
	}
	if _, err := ClientFor(n, nil).Health(context.Background()); err == nil {
		t.Error("a self-signed node was trusted with the system's authorities")
	}
}
