package node

import (
	"context"
	"fmt"
	"net"

	"github.com/berth-dev/berth/internal/files"
	"github.com/berth-dev/berth/internal/node/sftpd"
	"github.com/berth-dev/berth/internal/nodeapi"
)

// DefaultSFTPListen is where `berth node` serves SFTP unless told
// otherwise; `berth up` serves it on loopback.
const DefaultSFTPListen = "0.0.0.0:2022"

// SFTPOff is the SFTPListen value that turns SFTP off; so does "".
const SFTPOff = "off"

// startSFTP prepares the SFTP server when cfg asks for one: the host key
// (made on first start) and the listener, so that a port in use fails the
// start. A node configured before it had a panel token serves no SFTP,
// and says how to fix that.
func (d *Daemon) startSFTP() error {
	if d.cfg.SFTPListen == "" || d.cfg.SFTPListen == SFTPOff {
		return nil
	}
	if d.cfg.PanelToken == "" || d.cfg.PanelURL == "" {
		d.log.Warn("SFTP is off: this node has no panel token; run `berth node configure` again with a new configure key to turn it on")
		return nil
	}
	panel, err := nodeapi.NewPanelClient(d.cfg.PanelURL, d.cfg.PanelToken)
	if err != nil {
		return fmt.Errorf("node: SFTP: %w", err)
	}
	srv, err := sftpd.New(sftpd.Config{Dir: d.cfg.Dir, Panel: panel, Folders: d.sftpFolder,
		Log: d.log.With("component", "sftp"), Now: d.cfg.Now})
	if err != nil {
		return fmt.Errorf("node: SFTP: %w", err)
	}
	ln, err := net.Listen("tcp", d.cfg.SFTPListen)
	if err != nil {
		return fmt.Errorf("node: SFTP listen: %w", err)
	}
	d.sftp, d.sftpLn = srv, ln
	d.log.Info("SFTP host key", "fingerprint", srv.Fingerprint())
	return nil
}

// sftpFolder opens an instance's data folder for an SFTP session, its
// usage measured: SFTP may write.
func (d *Daemon) sftpFolder(ctx context.Context, id string) (*files.Folder, error) {
	return d.openFolder(ctx, id, true)
}

// serveSFTP serves SFTP until ctx is done; the returned function waits
// for it to stop. Without SFTP it does nothing.
func (d *Daemon) serveSFTP(ctx context.Context) (wait func()) {
	if d.sftp == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := d.sftp.Serve(ctx, d.sftpLn); err != nil {
			d.log.Error("SFTP stopped", "err", err)
		}
	}()
	return func() { <-done }
}

// SFTPSessions is the number of open SFTP sessions, for the metrics.
func (d *Daemon) SFTPSessions() int {
	if d.sftp == nil {
		return 0
	}
	return d.sftp.Sessions()
}

// SFTPAddr is the address SFTP listens on; nil when it is off.
func (d *Daemon) SFTPAddr() net.Addr {
	if d.sftpLn == nil {
		return nil
	}
	return d.sftpLn.Addr()
}

// sftpPort is the port SFTP listens on, 0 when it is off, for /v1/health.
func (d *Daemon) sftpPort() int {
	if a, ok := d.SFTPAddr().(*net.TCPAddr); ok {
		return a.Port
	}
	return 0
}

// endSFTPSessions ends the SFTP sessions of an instance, for reason.
func (d *Daemon) endSFTPSessions(id, reason string) {
	if d.sftp != nil {
		d.sftp.CloseInstance(id, reason)
	}
}
