package panel

import (
	"net/http"
	"slices"
	"time"

	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/nodeapi"
)

// routeDocs documents every route of routes() for the OpenAPI document,
// in mode m (some statuses differ by mode: see statusTable). A route added
// to routes() needs its entry here, and TestOpenAPIDocumentsExactlyTheRoutes
// says which is missing. Give the Go type a handler answers with, so that
// its schema follows the code; the request bodies below mirror what the
// handlers read field by field (decode.go), since those read no struct.
func routeDocs(m Mode) []routeDoc {
	const (
		ok        = http.StatusOK
		created   = http.StatusCreated
		noContent = http.StatusNoContent
		notFound  = http.StatusNotFound
		conflict  = http.StatusConflict
		tooLarge  = http.StatusRequestEntityTooLarge
		forbidden = http.StatusForbidden
		down      = http.StatusServiceUnavailable
		tooMany   = http.StatusTooManyRequests

		unauthorized = http.StatusUnauthorized
	)
	missing := m.status(seedNotFound)
	// nodeErrors are the answers of a route that calls the instance's
	// node: no such instance, or one not created on its node yet or in the
	// wrong state, a node that cannot be reached, and whatever else the
	// node refuses, with its kind (a path outside the instance's folder,
	// a file over a cap, too many calls).
	nodeErrors := []int{forbidden, notFound, conflict, tooLarge, http.StatusTooManyRequests, down}
	tail := queryParam{name: "tail", integer: true, doc: "how many of the last lines (1 to 5000)"}
	path := queryParam{name: "path", doc: "a path inside the instance's folder", required: true}
	folder := queryParam{name: "path", doc: "a folder inside the instance's folder; the folder itself when absent"}
	binary := media{contentType: "*/*"}
	anyObject := &schema{Type: "object", Description: "any JSON object"}

	return append([]routeDoc{
		// Outside /api.
		{pattern: "GET /healthz", summary: "Answer 200 once the panel is ready", auth: public,
			answers: map[int]any{ok: healthView{}}, errors: []int{down}},
		{pattern: "POST /nodes/configure", summary: "Exchange a node's one-time configure key for its token", auth: public,
			body: nodeapi.ConfigureRequest{}, answers: map[int]any{ok: nodeapi.ConfigureResponse{}}, errors: []int{forbidden}},
		{pattern: "POST /nodes/sftp/auth", summary: "A node asks whether an SFTP sign-in may open a session on one of its instances; every refusal is the same 403", auth: nodeCaller,
			body: nodeapi.SFTPAuthRequest{}, answers: map[int]any{ok: nodeapi.SFTPGrant{}}},
		{pattern: "POST /nodes/sftp/check", summary: "A node asks which of its open SFTP sessions may stay open, and with which permissions", auth: nodeCaller,
			body: nodeapi.SFTPCheckRequest{}, answers: map[int]any{ok: nodeapi.SFTPCheckResponse{}}},
		{pattern: "GET /api/openapi.json", summary: "This document", auth: public,
			answers: map[int]any{ok: anyObject}},

		// Users (the seed).
		{pattern: "GET /api/users", summary: "List users, oldest first", auth: admin, paged: true,
			query:   []queryParam{{name: "name", doc: "keep the users whose username or email starts with it, ignoring case"}},
			answers: map[int]any{ok: []userView{}}},
		{pattern: "POST /api/getUser", summary: "Find a user by email or username", auth: admin,
			body: getUserBody{}, answers: map[int]any{m.status(userFound): userView{}}, errors: []int{missing}},
		{pattern: "POST /api/auth/create-user", summary: "Create a user", auth: admin,
			body: createUserBody{}, answers: map[int]any{created: userView{}}, errors: []int{conflict}, idempotent: true},

		// Instances (the seed, then power, logs, files, stats, console).
		{pattern: "GET /api/instances", summary: "List instances, oldest first", auth: admin, paged: true,
			query: []queryParam{{name: "node", doc: "keep the instances of this node id"},
				{name: "user", doc: "keep the instances of this userId"},
				{name: "state", doc: "keep the instances in this InternalState: INSTALLING, READY or FAILED"},
				{name: "status", doc: "keep the instances with this Status, as the list shows it: offline (an instance of an offline node is), installing, starting, running, stopping, stopped or crashed"},
				{name: "name", doc: "keep the instances whose Name starts with it, case and all"}},
			answers: map[int]any{ok: []instanceView{}}},
		{pattern: "POST /api/instances/deploy", summary: "Deploy an instance; it installs asynchronously", auth: admin,
			body: deployBody{}, answers: map[int]any{created: deployed{}}, idempotent: true},
		{pattern: "DELETE /api/instance/delete", summary: "Delete an instance, its container, its data and all its backups, locked ones too", auth: admin,
			body: instanceIDBody{}, answers: map[int]any{m.status(instanceDeleted): messageView{}}, errors: []int{missing}},
		{pattern: "POST /api/getUserInstance", summary: "List a user's instances", auth: admin,
			body: userIDBody{}, answers: map[int]any{ok: []instanceView{}}, errors: []int{missing}},
		{pattern: "POST /api/getInstance", summary: "Get an instance", auth: admin,
			body: instanceIDBody{}, answers: map[int]any{ok: instanceView{}}, errors: []int{missing}},
		{pattern: "POST /api/instances/suspend/{id}", summary: "Suspend an instance: stop it and refuse every start", auth: admin,
			answers: map[int]any{ok: instanceView{}}, errors: []int{missing}},
		{pattern: "POST /api/instances/unsuspend/{id}", summary: "Lift an instance's suspension", auth: admin,
			answers: map[int]any{ok: instanceView{}}, errors: []int{missing}},
		{pattern: "POST /api/instances/power/{id}", summary: "Start, stop, restart or kill an instance", auth: admin,
			body: powerBody{}, answers: map[int]any{ok: instanceView{}}, errors: nodeErrors},
		{pattern: "GET /api/instances/logs/{id}", summary: "The last lines of an instance's console output", auth: admin,
			query: []queryParam{tail}, answers: map[int]any{ok: logsView{}}, errors: nodeErrors},
		{pattern: "GET /api/instances/disk/{id}", summary: "An instance's disk use and limit", auth: admin,
			answers: map[int]any{ok: diskView{}}, errors: nodeErrors},
		{pattern: "GET /api/instances/files/{id}", summary: "List a folder of an instance", auth: admin,
			query: []queryParam{folder}, answers: map[int]any{ok: nodeapi.FileList{}}, errors: nodeErrors},
		{pattern: "GET /api/instances/files/{id}/content", summary: "Read a file (up to 10 MiB)", auth: admin,
			query: []queryParam{path}, answers: map[int]any{ok: binary}, errors: nodeErrors},
		{pattern: "PUT /api/instances/files/{id}/content", summary: "Replace a file with the body", auth: admin,
			query: []queryParam{path}, body: media{contentType: "application/octet-stream", schema: &schema{Type: "string", Format: "binary"}},
			answers: map[int]any{ok: nodeapi.FileEntry{}}, errors: nodeErrors},
		{pattern: "GET /api/instances/files/{id}/download", summary: "Download a file of any size; ranges are honoured", auth: admin,
			query: []queryParam{path}, answers: map[int]any{ok: binary, http.StatusPartialContent: binary,
				http.StatusRequestedRangeNotSatisfiable: binary}, errors: nodeErrors},
		{pattern: "POST /api/instances/files/{id}/upload", summary: "Upload files into a folder", auth: admin,
			query: []queryParam{folder}, body: media{contentType: "multipart/form-data", schema: &schema{Type: "object",
				Description: "each file part is stored under its file name"}},
			answers: map[int]any{created: nodeapi.UploadResult{}}, errors: nodeErrors},
		{pattern: "POST /api/instances/files/{id}/mkdir", summary: "Create a folder", auth: admin,
			body: nodeapi.PathRequest{}, answers: map[int]any{created: nodeapi.FileEntry{}}, errors: nodeErrors},
		{pattern: "POST /api/instances/files/{id}/rename", summary: "Move or rename a file or folder", auth: admin,
			body: nodeapi.RenameRequest{}, answers: map[int]any{ok: nodeapi.FileEntry{}}, errors: nodeErrors},
		{pattern: "POST /api/instances/files/{id}/delete", summary: "Delete files and folders", auth: admin,
			body: nodeapi.DeleteRequest{}, answers: map[int]any{ok: nodeapi.DeleteResult{}}, errors: nodeErrors},
		{pattern: "POST /api/instances/files/{id}/compress", summary: "Archive files into a new .tar.gz", auth: admin,
			body: nodeapi.CompressRequest{}, answers: map[int]any{created: nodeapi.FileEntry{}}, errors: nodeErrors},
		{pattern: "POST /api/instances/files/{id}/extract", summary: "Unpack an archive", auth: admin,
			body: extractBody{}, answers: map[int]any{ok: nodeapi.ExtractResult{}}, errors: nodeErrors},
		{pattern: "GET /api/instances/stats/{id}", summary: "A sample of an instance's resource use", auth: admin,
			answers: map[int]any{ok: statsView{}}, errors: nodeErrors},
		{pattern: "GET /api/instances/console/{id}", summary: "The console WebSocket: output, status and stats in, commands and power actions out", auth: admin,
			answers: map[int]any{http.StatusSwitchingProtocols: nil}, errors: nodeErrors},
		{pattern: "GET /api/instances/install-log/{id}", summary: "The output of an instance's install", auth: admin,
			query: []queryParam{tail}, answers: map[int]any{ok: installLogView{}}, errors: nodeErrors},

		// Image templates.
		{pattern: "GET /api/images", summary: "List image templates, by name", auth: admin, paged: true,
			answers: map[int]any{ok: []images.Template{}}},
		{pattern: "POST /api/images", summary: "Import an image template (Berth's format, a Pterodactyl or Pelican egg in JSON or YAML, or a Skyport image)", auth: admin,
			query: []queryParam{{name: "replace", doc: "true: update the template of the same uuid or name (200) instead of answering 409"}},
			body:  anyObject, answers: map[int]any{created: importedView{}, ok: importedView{}}, errors: []int{conflict}},
		{pattern: "DELETE /api/images/{id}", summary: "Delete an image template no instance uses", auth: admin,
			answers: map[int]any{ok: messageView{}}, errors: []int{notFound, conflict}},

		// Nodes.
		{pattern: "GET /api/nodes", summary: "List nodes, oldest first", auth: admin, paged: true,
			answers: map[int]any{ok: []nodeView{}}},
		{pattern: "POST /api/nodes/create", summary: "Create a node; its configure key is shown once", auth: admin,
			body: nodeBody{}, answers: map[int]any{created: createdNode{}}},
		{pattern: "DELETE /api/nodes/delete", summary: "Delete a node that runs no instance", auth: admin,
			body: nodeIDBody{}, answers: map[int]any{m.status(nodeDeleted): messageView{}}, errors: []int{missing, conflict}},
		{pattern: "POST /api/nodes/configure-key/{id}", summary: "Issue a node a new one-time configure key", auth: admin,
			answers: map[int]any{ok: createdNode{}}, errors: []int{notFound}},

		// Admin management of users and API keys.
		{pattern: "PATCH /api/users/{userId}", summary: "Change a user; a new password ends the user's sessions", auth: admin,
			body: userChangeBody{}, answers: map[int]any{ok: userView{}}, errors: []int{notFound, conflict}},
		{pattern: "DELETE /api/users/{userId}", summary: "Delete a user who owns no instance", auth: admin,
			answers: map[int]any{noContent: nil}, errors: []int{notFound, conflict}},
		{pattern: "GET /api/keys", summary: "List the admin API keys, never the keys themselves", auth: admin,
			answers: map[int]any{ok: []keyView{}}},
		{pattern: "POST /api/keys", summary: "Create an admin API key; the key is shown once", auth: admin,
			body: keyNameBody{}, answers: map[int]any{created: createdKey{}}},
		{pattern: "DELETE /api/keys/{id}", summary: "Revoke an API key at once; the last working key cannot be revoked", auth: admin,
			answers: map[int]any{noContent: nil}, errors: []int{notFound, conflict}},

		// Accounts (DESIGN §8): sign-in, the user's own account, two-factor,
		// sessions, personal access tokens, SSH keys; an admin's reset of a
		// user's two-factor. A wrong password typed again to confirm a change
		// is a 403, and counts toward sign-in throttling (429).
		{pattern: "POST /auth/login", summary: "Sign in with a username or email, a password and, with two-factor on, a code; sets the session cookie", auth: public,
			body: loginBody{}, answers: map[int]any{ok: signedInView{}, unauthorized: signInRefusal{}}, errors: []int{forbidden, tooMany}},
		{pattern: "POST /auth/logout", summary: "End the cookie's session, if any, and clear the cookie", auth: public,
			answers: map[int]any{noContent: nil}, errors: []int{forbidden}},
		{pattern: "GET /api/client/account", summary: "The signed-in user", auth: user,
			answers: map[int]any{ok: accountView{}}},
		{pattern: "POST /api/client/account/password", summary: "Change the password; the user's other sessions end", auth: user,
			body: passwordChangeBody{}, answers: map[int]any{noContent: nil}, errors: []int{tooMany}},
		{pattern: "POST /api/client/account/2fa/setup", summary: "Start setting up two-factor: a new secret, shown once (as text, an otpauth:// URL and a QR code), not in force until enabled", auth: user,
			answers: map[int]any{ok: twoFactorSetupView{}}, errors: []int{conflict}},
		{pattern: "POST /api/client/account/2fa/enable", summary: "Turn two-factor on with a first code; the recovery codes are shown once", auth: user,
			body: codeBody{}, answers: map[int]any{ok: recoveryCodesView{}}, errors: []int{conflict}},
		{pattern: "POST /api/client/account/2fa/disable", summary: "Turn two-factor off with the password and a code or a recovery code", auth: user,
			body: twoFactorOffBody{}, answers: map[int]any{noContent: nil}, errors: []int{conflict, tooMany}},
		{pattern: "GET /api/client/account/sessions", summary: "The user's live sessions, never their cookies", auth: user,
			answers: map[int]any{ok: []sessionView{}}},
		{pattern: "DELETE /api/client/account/sessions", summary: "End every session of the user but the one asking", auth: user,
			answers: map[int]any{noContent: nil}},
		{pattern: "DELETE /api/client/account/sessions/{id}", summary: "End one of the user's sessions", auth: user,
			answers: map[int]any{noContent: nil}, errors: []int{notFound}},
		{pattern: "GET /api/client/account/tokens", summary: "The user's personal access tokens, never the tokens themselves", auth: user,
			answers: map[int]any{ok: []tokenView{}}},
		{pattern: "POST /api/client/account/tokens", summary: "Create a personal access token; the token is shown once", auth: user,
			body: tokenBody{}, answers: map[int]any{created: newTokenView{}}},
		{pattern: "DELETE /api/client/account/tokens/{id}", summary: "Delete one of the user's tokens; it stops working at once", auth: user,
			answers: map[int]any{noContent: nil}, errors: []int{notFound}},
		{pattern: "GET /api/client/account/ssh-keys", summary: "The user's SSH public keys, for SFTP", auth: user,
			answers: map[int]any{ok: []sshKeyView{}}},
		{pattern: "POST /api/client/account/ssh-keys", summary: "Add an SSH public key", auth: user,
			body: sshKeyBody{}, answers: map[int]any{created: sshKeyView{}}, errors: []int{conflict}, idempotent: true},
		{pattern: "DELETE /api/client/account/ssh-keys/{id}", summary: "Delete one of the user's SSH keys", auth: user,
			answers: map[int]any{noContent: nil}, errors: []int{notFound}},
		{pattern: "POST /api/users/{userId}/reset-2fa", summary: "Turn a user's two-factor off", auth: admin,
			answers: map[int]any{ok: accountView{}}, errors: []int{notFound}},
	}, slices.Concat(clientRouteDocs(nodeErrors, tail, path, folder, binary), backupRouteDocs(nodeErrors, binary), scheduleRouteDocs(), webhookRouteDocs())...)
}

// clientRouteDocs documents the activity log and the client API
// (/api/client). An instance's routes answer 404 to a stranger, 403 for a
// missing permission or a read-only token's change, 409 for a change to a
// suspended instance; those that call the node answer as the admin API's.
func clientRouteDocs(nodeErrors []int, tail, path, folder queryParam, binary media) []routeDoc {
	const (
		ok        = http.StatusOK
		created   = http.StatusCreated
		noContent = http.StatusNoContent
	)
	activityQuery := []queryParam{
		{name: "action", doc: "an action, or a dotted prefix of actions (instance.power)"},
		{name: "actor", doc: "a user id or a credential id"},
		{name: "since", doc: "RFC 3339; entries at or after it"},
		{name: "until", doc: "RFC 3339; entries before it"},
		{name: "limit", integer: true, doc: "entries per page, 1 to 1000 (default 50)"},
		{name: "after", doc: "the next of the previous page, also named in its Link header"},
	}
	see := []int{http.StatusNotFound}
	change := []int{http.StatusNotFound, http.StatusConflict}
	const inst = "/api/client/instances/{id}"
	fileErrors := nodeErrors
	return []routeDoc{
		{pattern: "GET /api/audit", summary: "Page through all activity, newest first", auth: admin, paged: true,
			query: append([]queryParam{{name: "instance", doc: "an instance's id"},
				{name: "target", doc: "what was changed: an instance's, user's, node's or key's id"}}, activityQuery...),
			answers: map[int]any{ok: activityPage{}}},

		{pattern: "GET /api/client/instances", summary: "The instances the user owns or is a subuser of, with its permissions, oldest first", auth: user, paged: true,
			answers: map[int]any{ok: []clientInstanceView{}}},
		{pattern: "GET " + inst, summary: "One of the user's instances, with its permissions", auth: user,
			answers: map[int]any{ok: clientInstanceView{}}, errors: see},
		{pattern: "POST " + inst + "/power", summary: "Start, stop, restart or kill (power)", auth: user,
			body: powerBody{}, answers: map[int]any{ok: instanceView{}}, errors: nodeErrors},
		{pattern: "GET " + inst + "/logs", summary: "The last lines of the console output (console.read)", auth: user,
			query: []queryParam{tail}, answers: map[int]any{ok: logsView{}}, errors: nodeErrors},
		{pattern: "GET " + inst + "/stats", summary: "A sample of the resource use (console.read)", auth: user,
			answers: map[int]any{ok: statsView{}}, errors: nodeErrors},
		{pattern: "GET " + inst + "/console", summary: "The console WebSocket (console.read; commands take console.write, power actions power)", auth: user,
			answers: map[int]any{http.StatusSwitchingProtocols: nil}, errors: nodeErrors},
		{pattern: "GET " + inst + "/install-log", summary: "The output of the install (console.read)", auth: user,
			query: []queryParam{tail}, answers: map[int]any{ok: installLogView{}}, errors: nodeErrors},
		{pattern: "GET " + inst + "/files", summary: "List a folder (files.read)", auth: user,
			query: []queryParam{folder}, answers: map[int]any{ok: nodeapi.FileList{}}, errors: fileErrors},
		{pattern: "GET " + inst + "/files/content", summary: "Read a file of up to 10 MiB (files.read)", auth: user,
			query: []queryParam{path}, answers: map[int]any{ok: binary}, errors: fileErrors},
		{pattern: "PUT " + inst + "/files/content", summary: "Replace a file with the body (files.write)", auth: user,
			query: []queryParam{path}, body: media{contentType: "application/octet-stream", schema: &schema{Type: "string", Format: "binary"}},
			answers: map[int]any{ok: nodeapi.FileEntry{}}, errors: fileErrors},
		{pattern: "GET " + inst + "/files/download", summary: "Download a file of any size; ranges are honoured (files.read)", auth: user,
			query: []queryParam{path}, answers: map[int]any{ok: binary, http.StatusPartialContent: binary,
				http.StatusRequestedRangeNotSatisfiable: binary}, errors: fileErrors},
		{pattern: "POST " + inst + "/files/upload", summary: "Upload files into a folder (files.write)", auth: user,
			query: []queryParam{folder}, body: media{contentType: "multipart/form-data", schema: &schema{Type: "object",
				Description: "each file part is stored under its file name"}},
			answers: map[int]any{created: nodeapi.UploadResult{}}, errors: fileErrors},
		{pattern: "POST " + inst + "/files/mkdir", summary: "Create a folder (files.write)", auth: user,
			body: nodeapi.PathRequest{}, answers: map[int]any{created: nodeapi.FileEntry{}}, errors: fileErrors},
		{pattern: "POST " + inst + "/files/rename", summary: "Move or rename a file or folder (files.write)", auth: user,
			body: nodeapi.RenameRequest{}, answers: map[int]any{ok: nodeapi.FileEntry{}}, errors: fileErrors},
		{pattern: "POST " + inst + "/files/delete", summary: "Delete files and folders (files.write)", auth: user,
			body: nodeapi.DeleteRequest{}, answers: map[int]any{ok: nodeapi.DeleteResult{}}, errors: fileErrors},
		{pattern: "POST " + inst + "/files/compress", summary: "Archive files into a new .tar.gz (files.write)", auth: user,
			body: nodeapi.CompressRequest{}, answers: map[int]any{created: nodeapi.FileEntry{}}, errors: fileErrors},
		{pattern: "POST " + inst + "/files/extract", summary: "Unpack an archive (files.write)", auth: user,
			body: extractBody{}, answers: map[int]any{ok: nodeapi.ExtractResult{}}, errors: fileErrors},
		{pattern: "GET " + inst + "/variables", summary: "The variables, with the template's rules (settings)", auth: user,
			answers: map[int]any{ok: variablesView{}}, errors: see},
		{pattern: "PUT " + inst + "/variables", summary: "Change editable variables under the template's rules (settings)", auth: user,
			body: variablesBody{}, answers: map[int]any{ok: variablesView{}}, errors: change},
		{pattern: "GET " + inst + "/subusers", summary: "The subusers (subusers)", auth: user,
			answers: map[int]any{ok: []subuserView{}}, errors: see},
		{pattern: "POST " + inst + "/subusers", summary: "Grant a user permissions; no more than the granter holds (subusers)", auth: user,
			body: subuserBody{}, answers: map[int]any{created: subuserView{}}, errors: change},
		{pattern: "PUT " + inst + "/subusers/{userId}", summary: "Replace a subuser's permissions (subusers)", auth: user,
			body: permissionsBody{}, answers: map[int]any{ok: subuserView{}}, errors: change},
		{pattern: "DELETE " + inst + "/subusers/{userId}", summary: "Take a subuser's every permission (subusers)", auth: user,
			answers: map[int]any{noContent: nil}, errors: change},
		{pattern: "GET " + inst + "/activity", summary: "Page through the instance's activity, newest first (console.read)", auth: user, paged: true,
			query: activityQuery, answers: map[int]any{ok: activityPage{}}, errors: see},
		{pattern: "PATCH " + inst, summary: "Rename the instance (settings)", auth: user,
			body: instanceNameBody{}, answers: map[int]any{ok: clientInstanceView{}}, errors: change},
		{pattern: "GET " + inst + "/disk", summary: "The disk use and limit (files.read)", auth: user,
			answers: map[int]any{ok: diskView{}}, errors: fileErrors},
	}
}

// The request bodies the handlers read, for the document. Every body may
// also be form-encoded, and numbers may be sent as numeric strings.
type (
	getUserBody struct {
		Type  string `json:"type" doc:"\"email\" or \"username\""`
		Value string `json:"value"`
	}
	createUserBody struct {
		Username string `json:"username"`
		Email    string `json:"email"`
		Password string `json:"password" doc:"at least 8 characters"`
		UserID   string `json:"userId,omitempty" doc:"letters, digits, '.', '_' and '-'; generated when absent"`
		Admin    bool   `json:"admin,omitempty"`
	}
	userChangeBody struct {
		Username string `json:"username,omitempty"`
		Email    string `json:"email,omitempty"`
		Password string `json:"password,omitempty" doc:"at least 8 characters; ends the user's sessions"`
		Admin    bool   `json:"admin,omitempty"`
	}
	userIDBody struct {
		UserID string `json:"userId"`
	}
	instanceIDBody struct {
		ID string `json:"id"`
	}
	nodeIDBody struct {
		NodeID string `json:"nodeId"`
	}
	keyNameBody struct {
		Name string `json:"name"`
	}
	deployBody struct {
		Image       string            `json:"image" doc:"an image template's Id or Name, or a Docker image reference"`
		ImageName   string            `json:"imagename,omitempty" doc:"the template, when image is a Docker reference"`
		Memory      int64             `json:"memory" doc:"MiB"`
		CPU         float64           `json:"cpu" doc:"cores"`
		Disk        int64             `json:"disk,omitempty" doc:"MiB"`
		Ports       string            `json:"ports" doc:"\"containerPort:hostPort,...\""`
		Primary     string            `json:"primary" doc:"one of the ports"`
		NodeID      string            `json:"nodeId"`
		Name        string            `json:"name"`
		User        string            `json:"user" doc:"the owner's userId"`
		Variables   map[string]string `json:"variables,omitempty" doc:"an object, or a JSON string of one"`
		BackupLimit int               `json:"backupLimit,omitempty" doc:"how many backups the instance may hold, 0 to 1000; the panel's -default-backup-limit when absent"`
	}
	loginBody struct {
		Username string `json:"username" doc:"a username, or an email"`
		Password string `json:"password"`
		Code     string `json:"code,omitempty" doc:"a TOTP code or a recovery code, when two-factor is on"`
	}
	passwordChangeBody struct {
		Current string `json:"current"`
		New     string `json:"new" doc:"at least 8 characters"`
	}
	codeBody struct {
		Code string `json:"code" doc:"the authenticator's current code"`
	}
	twoFactorOffBody struct {
		Password string `json:"password"`
		Code     string `json:"code" doc:"a TOTP code or a recovery code"`
	}
	tokenBody struct {
		Name      string     `json:"name"`
		ReadOnly  bool       `json:"readOnly,omitempty" doc:"the token may only read (GET)"`
		ExpiresAt *time.Time `json:"expiresAt,omitempty" doc:"RFC 3339, in the future; never when absent or null"`
	}
	sshKeyBody struct {
		Name      string `json:"name,omitempty" doc:"the key's comment when absent"`
		PublicKey string `json:"publicKey" doc:"one authorized_keys line without options: ed25519, ECDSA, or RSA of 2048 bits or more"`
	}
	variablesBody struct {
		Variables map[string]string `json:"variables" doc:"the editable variables to change, by name; the rest keep their values"`
	}
	subuserBody struct {
		User        string   `json:"user" doc:"a username or email"`
		Permissions []string `json:"permissions"`
	}
	permissionsBody struct {
		Permissions []string `json:"permissions"`
	}
	powerBody struct {
		Action string `json:"action" doc:"start, stop, restart or kill"`
	}
	extractBody struct {
		Path        string `json:"path"`
		Destination string `json:"destination,omitempty" doc:"the instance's folder when absent"`
	}
	nodeBody struct {
		Name      string `json:"name"`
		Tags      string `json:"tags,omitempty"`
		RAM       string `json:"ram" doc:"MiB, or with a unit: 8G, 8192M"`
		Disk      string `json:"disk" doc:"MiB, or with a unit: 8G, 8192M"`
		Processor string `json:"processor,omitempty"`
		Address   string `json:"address" doc:"a host name or IP address"`
		Port      int    `json:"port"`
		Scheme    string `json:"scheme,omitempty" doc:"http (the default) or https"`
	}
)

// instanceNameBody is the body of PATCH /api/client/instances/{id}.
type instanceNameBody struct {
	Name string `json:"name" doc:"1 to 100 bytes, as at deploy"`
}
