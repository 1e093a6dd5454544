// Command gameserver is a tiny static stand-in for a real game server, used
// by Berth's tests: dockertest builds it into an image, and the tests run it
// as an instance. It listens on its port over TCP and UDP, announces that it
// is ready the way game servers do, and obeys console commands (stop, exit,
// alloc, say, flood) so tests can drive stops, crashes and OOM kills. A
// stop signal it records, once it has "saved", in signal.txt, so that tests
// can tell that the signal reached it and that it was let finish.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// defaultPort is used when neither PRIMARY_PORT nor SERVER_PORT is set.
const defaultPort = 25565

// config is what the environment tells the server.
type config struct {
	// port to listen on for TCP and UDP; 0 picks a free one.
	port int
	// readyDelay postpones the ready line, as a slow-starting game does.
	readyDelay time.Duration
	// exitCode, when set, makes the server exit with it once ready.
	exitCode *int
	// saveDelay is how long the server takes to save after a stop
	// signal, as a real game does, before it records the signal.
	saveDelay time.Duration
	// dir is where ready.txt is written.
	dir string
}

// configFromEnv reads PRIMARY_PORT (or SERVER_PORT), GAMESERVER_EXIT_CODE,
// GAMESERVER_READY_DELAY and GAMESERVER_SAVE_DELAY.
func configFromEnv(getenv func(string) string) (config, error) {
	cfg := config{port: defaultPort, dir: "."}
	for _, name := range []string{"PRIMARY_PORT", "SERVER_PORT"} {
		v := getenv(name)
		if v == "" {
			continue
		}
		port, err := strconv.Atoi(v)
		if err != nil || port < 0 || port > 65535 {
			return config{}, fmt.Errorf("%s: want a port number, got %q", name, v)
		}
		cfg.port = port
		break
	}
	if v := getenv("GAMESERVER_EXIT_CODE"); v != "" {
		code, err := strconv.Atoi(v)
		if err != nil {
			return config{}, fmt.Errorf("GAMESERVER_EXIT_CODE: want an integer, got %q", v)
		}
		cfg.exitCode = &code
	}
	if v := getenv("GAMESERVER_READY_DELAY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return config{}, fmt.Errorf("GAMESERVER_READY_DELAY: want a duration such as 2s, got %q", v)
		}
		cfg.readyDelay = d
	}
	if v := getenv("GAMESERVER_SAVE_DELAY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return config{}, fmt.Errorf("GAMESERVER_SAVE_DELAY: want a duration such as 1s, got %q", v)
		}
		cfg.saveDelay = d
	}
	return cfg, nil
}

func main() {
	cfg, err := configFromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gameserver:", err)
		os.Exit(2)
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	os.Exit(run(context.Background(), cfg, os.Stdin, os.Stdout, signals))
}
