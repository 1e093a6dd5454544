package nodeapi

// The calls a node makes to the panel for SFTP (DESIGN §10), under
// /nodes/sftp on the panel, authenticated by the node's panel token
// (ConfigureResponse.PanelToken).

// SFTPAuthRequest is the body of POST /nodes/sftp/auth: one SFTP sign-in
// as a user of an instance, with a password or a public key.
type SFTPAuthRequest struct {
	// Username is the panel account's username.
	Username string `json:"username"`
	// InstanceID is the instance the session is for.
	InstanceID string `json:"instanceId"`
	// Password is the account's password, for a password sign-in.
	Password string `json:"password,omitempty"`
	// PublicKey is the key offered, as one authorized_keys line, for a
	// key sign-in. The node has checked that the client holds its private
	// half before it asks.
	PublicKey string `json:"publicKey,omitempty"`
	// RemoteAddr is the SFTP client's IP address, for the panel's
	// per-address throttle and its activity log.
	RemoteAddr string `json:"remoteAddr"`
}

// SFTPGrant is the answer to a sign-in that the panel accepts.
type SFTPGrant struct {
	UserID string `json:"userId"`
	// Permissions are the user's on the instance (access.Permission
	// names); "files.write" lets the session change files.
	Permissions []string `json:"permissions"`
	// Credential names what the session signed in with, opaque to the
	// node, which sends it back with every check: a changed password or a
	// removed key then ends the session.
	Credential string `json:"credential"`
}

// SFTPSession is one open session, as the node asks about it.
type SFTPSession struct {
	ID         string `json:"id"`
	UserID     string `json:"userId"`
	InstanceID string `json:"instanceId"`
	Credential string `json:"credential"`
	// Opened is set on the check the node makes as the session opens,
	// once SSH has verified the client: the panel then records the
	// sign-in in the instance's activity. A sign-in by key is asked about
	// before the client has proven it holds the key, so SFTPAuth records
	// nothing.
	Opened bool `json:"opened,omitempty"`
	// RemoteAddr is the client's IP address, sent with Opened.
	RemoteAddr string `json:"remoteAddr,omitempty"`
}

// SFTPCheckRequest is the body of POST /nodes/sftp/check: the node's open
// sessions, to learn which may stay open.
type SFTPCheckRequest struct {
	Sessions []SFTPSession `json:"sessions"`
}

// SFTPVerdict is the panel's answer about one session.
type SFTPVerdict struct {
	ID      string `json:"id"`
	Allowed bool   `json:"allowed"`
	// Permissions are the user's on the instance now, when Allowed.
	Permissions []string `json:"permissions,omitempty"`
}

// SFTPCheckResponse answers SFTPCheckRequest, one verdict per session
// asked about, in the same order.
type SFTPCheckResponse struct {
	Sessions []SFTPVerdict `json:"sessions"`
}

// MaxSFTPCheckSessions caps the sessions of one check request.
const MaxSFTPCheckSessions = 1000
