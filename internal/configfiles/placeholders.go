package configfiles

import (
	"regexp"
	"strconv"
	"strings"
)

// Placeholders are the values a replacement's value may name, in the
// spellings eggs use. Pterodactyl's panel fills in the server.* and env.*
// ones and Wings the config.* ones; Berth's node does all of them.
type Placeholders struct {
	// Port is {{server.build.default.port}}: the primary port inside the
	// container, which the server listens on.
	Port int
	// IP is {{server.build.default.ip}}: the address to listen on.
	IP string
	// MemoryMiB is {{server.build.memory}}.
	MemoryMiB int64
	// Interface is {{config.docker.interface}}. Under Wings it is the
	// Docker bridge's gateway, the host as a container sees it; Berth keeps
	// instances off the host, so it is the address to listen on as well.
	Interface string
	// Env holds the instance's environment: {{env.NAME}},
	// {{server.build.env.NAME}}, and {{NAME}} as in a startup line.
	Env map[string]string
}

// placeholder matches {{name}}, spaces allowed inside the braces.
var placeholder = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}`)

// Render replaces the placeholders in s. An unknown server.* or env.*
// name becomes empty, as Pterodactyl's panel makes it; an unknown config.*
// or plain name is left as written, as Wings leaves it, so that the slip
// shows in the file.
func (p Placeholders) Render(s string) string {
	return placeholder.ReplaceAllStringFunc(s, func(m string) string {
		v, ok := p.lookup(placeholder.FindStringSubmatch(m)[1])
		if !ok {
			return m
		}
		return v
	})
}

// lookup returns the value of one placeholder name.
func (p Placeholders) lookup(name string) (string, bool) {
	switch name {
	// Pelican's eggs name the primary allocation server.allocations.default.
	case "server.build.default.port", "server.allocations.default.port", "env.SERVER_PORT", "server.build.env.SERVER_PORT":
		return strconv.Itoa(p.Port), true
	case "server.build.default.ip", "server.allocations.default.ip", "env.SERVER_IP", "server.build.env.SERVER_IP":
		return p.IP, true
	case "server.build.memory", "env.SERVER_MEMORY", "server.build.env.SERVER_MEMORY":
		return strconv.FormatInt(p.MemoryMiB, 10), true
	case "config.docker.interface", "config.docker.network.interface":
		return p.Interface, true
	}
	if env, ok := strings.CutPrefix(name, "server.build.env."); ok {
		return p.Env[env], true
	}
	if env, ok := strings.CutPrefix(name, "env."); ok {
		return p.Env[env], true
	}
	if strings.HasPrefix(name, "server.") {
		return "", true
	}
	v, ok := p.Env[name]
	return v, ok
}
