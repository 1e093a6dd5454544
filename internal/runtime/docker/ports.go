package docker

import (
	"fmt"
	"strconv"

	"github.com/moby/moby/api/types/network"

	"github.com/berth-dev/berth/internal/runtime"
)

// publishedProtocols are the protocols each binding is published for: game
// servers commonly speak UDP (queries, voice) beside TCP on the same port.
var publishedProtocols = []network.IPProtocol{network.TCP, network.UDP}

// validatePorts reports the first binding that is not a valid port pair, or
// a host port bound twice. One container port may be published on several
// host ports, as the panel's port syntax allows ("80:9000,80:9001").
func validatePorts(ports []runtime.PortBinding) error {
	seen := make(map[int]bool, len(ports))
	for _, p := range ports {
		if p.Container < 1 || p.Container > 65535 {
			return fmt.Errorf("spec.Ports: container port must be 1-65535, got %d", p.Container)
		}
		if p.Host < 1 || p.Host > 65535 {
			return fmt.Errorf("spec.Ports: host port must be 1-65535, got %d", p.Host)
		}
		if seen[p.Host] {
			return fmt.Errorf("spec.Ports: host port %d is bound twice", p.Host)
		}
		seen[p.Host] = true
	}
	return nil
}

// portMaps turns bindings into Docker's exposed ports and port bindings,
// one entry per protocol, published on every host address. A container
// port listed twice gets both host ports.
func portMaps(ports []runtime.PortBinding) (network.PortSet, network.PortMap) {
	exposed := make(network.PortSet, len(ports)*len(publishedProtocols))
	bindings := make(network.PortMap, len(ports)*len(publishedProtocols))
	for _, p := range ports {
		for _, proto := range publishedProtocols {
			port, _ := network.PortFrom(uint16(p.Container), proto)
			exposed[port] = struct{}{}
			bindings[port] = append(bindings[port], network.PortBinding{HostPort: strconv.Itoa(p.Host)})
		}
	}
	return exposed, bindings
}
