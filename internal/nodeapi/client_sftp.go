package nodeapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// sftpTimeout bounds a node's call to the panel about SFTP: a sign-in
// waits on it, and an argon2id check takes well under a second.
const sftpTimeout = 10 * time.Second

// PanelClient is a node's client of the panel: the calls the node makes
// with its panel token. It is safe for concurrent use.
type PanelClient struct {
	c *Client
}

// NewPanelClient returns a client of the panel at panelURL (http:// or
// https://) that presents token.
func NewPanelClient(panelURL, token string) (*PanelClient, error) {
	u, err := url.Parse(panelURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("panel URL must be http:// or https:// with a host")
	}
	if token == "" {
		return nil, fmt.Errorf("panel token is empty")
	}
	return &PanelClient{c: &Client{base: strings.TrimRight(panelURL, "/"), token: token, http: newHTTPClient(nil)}}, nil
}

// String names the panel without the token.
func (p *PanelClient) String() string { return "nodeapi.PanelClient(" + p.c.base + ")" }

// SFTPAuth asks the panel whether a sign-in may open a session. Every
// refusal is a 403 *Error, whatever its reason.
func (p *PanelClient) SFTPAuth(ctx context.Context, req SFTPAuthRequest) (SFTPGrant, error) {
	var g SFTPGrant
	err := p.c.call(ctx, sftpTimeout, http.MethodPost, "/nodes/sftp/auth", req, &g)
	return g, err
}

// SFTPCheck asks the panel which of the open sessions may stay open.
func (p *PanelClient) SFTPCheck(ctx context.Context, sessions []SFTPSession) ([]SFTPVerdict, error) {
	var resp SFTPCheckResponse
	if err := p.c.call(ctx, sftpTimeout, http.MethodPost, "/nodes/sftp/check", SFTPCheckRequest{Sessions: sessions}, &resp); err != nil {
		return nil, err
	}
	if len(resp.Sessions) != len(sessions) {
		return nil, fmt.Errorf("POST /nodes/sftp/check: %d verdicts for %d sessions", len(resp.Sessions), len(sessions))
	}
	return resp.Sessions, nil
}
