package store

import "context"

// HostPorts returns the host ports allocated on every node, by node id,
// each node's in ascending order, in one query.
func (s *Store) HostPorts(ctx context.Context) (map[string][]int, error) {
	type allocation struct {
		node string
		port int
	}
	list, err := queryAll(ctx, s, "host ports", func(row scanner) (allocation, error) {
		var a allocation
		err := row.Scan(&a.node, &a.port)
		return a, err
	}, `SELECT node_id, host_port FROM instance_ports ORDER BY node_id`+s.bytewise+`, host_port`)
	if err != nil {
		return nil, err
	}
	out := map[string][]int{}
	for _, a := range list {
		out[a.node] = append(out[a.node], a.port)
	}
	return out, nil
}
