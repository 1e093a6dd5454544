// Package ports parses and formats the port mappings of a deploy request:
// "containerPort:hostPort,..." plus the primary port chosen among them.
package ports

import (
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/fault"
)

// MaxBindings bounds how many ports one instance may publish.
const MaxBindings = 64

// Binding publishes Container on Host, for TCP and UDP.
type Binding struct {
	Container int
	Host      int
}

// Parse reads "c:h,c:h,..." (a bare "p" means "p:p"). Spaces around items
// are ignored. Every port is 1-65535, and no host port appears twice.
func Parse(s string) ([]Binding, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fault.InvalidField("ports", "is required, as \"containerPort:hostPort,...\"")
	}
	items := strings.Split(s, ",")
	if len(items) > MaxBindings {
		return nil, fault.InvalidField("ports", "at most %d mappings are allowed", MaxBindings)
	}
	seen := make(map[int]bool, len(items))
	bs := make([]Binding, 0, len(items))
	for _, item := range items {
		b, err := parseBinding(strings.TrimSpace(item))
		if err != nil {
			return nil, fault.InvalidField("ports", "%q: %s", item, err.Error())
		}
		if seen[b.Host] {
			return nil, fault.InvalidField("ports", "host port %d appears twice", b.Host)
		}
		seen[b.Host] = true
		bs = append(bs, b)
	}
	return bs, nil
}

type parseError string

func (e parseError) Error() string { return string(e) }

func parseBinding(item string) (Binding, error) {
	c, h, pair := strings.Cut(item, ":")
	if !pair {
		h = c
	}
	cp, err := parsePort(c)
	if err != nil {
		return Binding{}, err
	}
	hp, err := parsePort(h)
	if err != nil {
		return Binding{}, err
	}
	return Binding{Container: cp, Host: hp}, nil
}

func parsePort(s string) (int, error) {
	if s == "" || len(s) > 5 {
		return 0, parseError("want containerPort:hostPort with ports 1-65535")
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, parseError("want containerPort:hostPort with ports 1-65535")
		}
	}
	p, _ := strconv.Atoi(s)
	if p < 1 || p > 65535 {
		return 0, parseError("port " + s + " is outside 1-65535")
	}
	return p, nil
}

// Format writes bindings back as "c:h,c:h".
func Format(bs []Binding) string {
	var b strings.Builder
	for i, x := range bs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(x.Container))
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(x.Host))
	}
	return b.String()
}

// Primary picks the primary binding among bs. "c:h" must match a binding
// exactly; a bare "p" matches a host port first, then a container port.
func Primary(raw string, bs []Binding) (Binding, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return Binding{}, fault.InvalidField("primary", "is required: one of the ports")
	}
	want, err := parseBinding(raw)
	if err != nil {
		return Binding{}, fault.InvalidField("primary", "%q: %s", raw, err.Error())
	}
	_, _, pair := strings.Cut(raw, ":")
	for _, b := range bs {
		if pair && b == want || !pair && b.Host == want.Host {
			return b, nil
		}
	}
	if !pair {
		for _, b := range bs {
			if b.Container == want.Container {
				return b, nil
			}
		}
	}
	return Binding{}, fault.InvalidField("primary", "%q is not one of the ports", raw)
}
