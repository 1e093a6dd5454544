// Package fleetsim simulates a large fleet in one process: hundreds of node
// daemons on the in-memory runtime, each on its own loopback listener, one
// panel and its reconciler on a real store, and tens of thousands of
// instances. Its test keeps a small fleet working in CI; its benchmark
// measures the panel at 500 nodes and 100,000 instances (DESIGN §13).
package fleetsim
