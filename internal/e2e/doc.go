// Package e2e holds Berth's end-to-end tests and benchmarks: they build the
// berth binary once, run a panel and node daemons as separate processes on
// loopback against the machine's Docker engine, and kill and restart them
// to check the promises of DESIGN.md §3 and §4 from the outside. The
// package has no code outside its tests.
package e2e
