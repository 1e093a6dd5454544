package sftpd

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/berth-dev/berth/internal/files"
)

// The throughput benchmarks move one file up and down through Berth's
// SFTP and through OpenSSH's sftp-server in the same run. Both sit behind
// the same x/crypto/ssh transport (sftp-server runs as the subsystem of a
// tiny server here), and both are driven by the same pkg/sftp client, so
// the ratio is that of the SFTP servers alone. Each server runs in a
// process of its own, as sftp-server must: the scheduler of a loaded
// machine then favours neither. Berth's upload also pays for its
// durability: the file is synced before it is renamed into place.
//
//	go test -run '^$' -bench SFTP -benchtime 1x ./internal/node/sftpd/
//
// BERTH_SFTP_BENCH_BYTES sets the file's size: 1 GiB by default, 64 MiB
// with -short.

// sftpServerPath is where Debian's openssh-server puts sftp-server.
const sftpServerPath = "/usr/lib/openssh/sftp-server"

func benchBytes(b *testing.B) int64 {
	if s := os.Getenv("BERTH_SFTP_BENCH_BYTES"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			b.Fatalf("BERTH_SFTP_BENCH_BYTES=%q: want a number of bytes", s)
		}
		return n
	}
	if testing.Short() {
		return 64 << 20
	}
	return 1 << 30
}

func BenchmarkSFTPUpload(b *testing.B)   { benchmarkSFTP(b, timeUpload) }
func BenchmarkSFTPDownload(b *testing.B) { benchmarkSFTP(b, timeDownload) }

// transfer moves size bytes through c, and returns how long the move
// alone took.
type transfer func(b *testing.B, c *sftp.Client, name string, size int64) time.Duration

func benchmarkSFTP(b *testing.B, move transfer) {
	if _, err := os.Stat(sftpServerPath); err != nil {
		b.Skip("OpenSSH's sftp-server is not installed (openssh-server)")
	}
	size := benchBytes(b)
	berthDir, opensshDir := b.TempDir(), b.TempDir()
	berth := startBerthProcess(b, berthDir)
	openssh := startOpenSSH(b, opensshDir)
	berthClient := dialSFTP(b, berth, "alice."+testInstance, ssh.Password(testPassword))
	opensshClient := dialSFTP(b, openssh, "bench", ssh.Password("x"))
	var berthTime, opensshTime time.Duration
	b.ResetTimer()
	for range b.N {
		// Alternated, so that neither gets the machine's quieter moments.
		berthTime += move(b, berthClient, "bench.bin", size)
		opensshTime += move(b, opensshClient, "bench.bin", size)
	}
	b.StopTimer()
	mbps := func(d time.Duration) float64 { return float64(size) * float64(b.N) / d.Seconds() / 1e6 }
	b.ReportMetric(mbps(berthTime), "berth-MB/s")
	b.ReportMetric(mbps(opensshTime), "openssh-MB/s")
	b.ReportMetric(mbps(berthTime)/mbps(opensshTime), "ratio")
	b.ReportMetric(float64(size)/(1<<20), "MiB")
}

// timeUpload writes a file of size bytes of random data.
func timeUpload(b *testing.B, c *sftp.Client, name string, size int64) time.Duration {
	start := time.Now()
	f, err := c.Create(name)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.ReadFromWithConcurrency(io.LimitReader(newNoise(b), size), 64); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// timeDownload reads a file of size bytes, which it uploads first, untimed.
func timeDownload(b *testing.B, c *sftp.Client, name string, size int64) time.Duration {
	if info, err := c.Stat(name); err != nil || info.Size() != size {
		timeUpload(b, c, name, size)
	}
	start := time.Now()
	f, err := c.Open(name)
	if err != nil {
		b.Fatal(err)
	}
	n, err := f.WriteTo(io.Discard)
	if err != nil || n != size {
		b.Fatalf("read %d bytes, %v; want %d", n, err, size)
	}
	f.Close()
	return time.Since(start)
}

// noise repeats 1 MiB of random bytes: incompressible, and cheap to make.
type noise struct {
	buf []byte
	off int
}

func newNoise(b *testing.B) *noise {
	n := &noise{buf: make([]byte, 1<<20)}
	if _, err := rand.Read(n.buf); err != nil {
		b.Fatal(err)
	}
	return n
}

func (n *noise) Read(p []byte) (int, error) {
	c := copy(p, n.buf[n.off:])
	n.off = (n.off + c) % len(n.buf)
	return c, nil
}

// benchServerEnv, set to a folder, makes the test binary a Berth SFTP
// server of that folder (TestMain): the benchmark's server in a process
// of its own.
const benchServerEnv = "BERTH_SFTPD_BENCH_SERVER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(benchServerEnv); dir != "" {
		os.Exit(serveBenchServer(dir))
	}
	os.Exit(m.Run())
}

// serveBenchServer serves SFTP for testInstance's folder dir, as
// startServer does, prints its address, and serves until its stdin
// closes: until the benchmark that started it ends.
func serveBenchServer(dir string) int {
	usage := &files.Usage{}
	usage.Set(0)
	srv, err := New(Config{Dir: dir + ".key", Panel: &fakePanel{allowed: true, perms: allPerms},
		Folders: func(context.Context, string) (*files.Folder, error) { return files.Open(dir, usage) }})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(ln.Addr().String())
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); cancel() }()
	if err := srv.Serve(ctx, ln); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startBerthProcess runs serveBenchServer in a new process of this test
// binary until the benchmark ends, and returns its address.
func startBerthProcess(b *testing.B, dir string) string {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), benchServerEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("the server process did not start: %v", err)
	}
	return strings.TrimSpace(addr)
}

// startOpenSSH serves sftp-server, working in dir, as the sftp subsystem
// of an x/crypto/ssh server on loopback that lets any password in, until
// the benchmark ends. It returns the server's address.
func startOpenSSH(b *testing.B, dir string) string {
	key, err := LoadHostKey(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	cfg := &ssh.ServerConfig{PasswordCallback: func(ssh.ConnMetadata, []byte) (*ssh.Permissions, error) { return nil, nil }}
	cfg.AddHostKey(key)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b.Cleanup(func() { cancel(); ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { serveSubsystem(ctx, c, cfg, dir) })
		}
	})
	return ln.Addr().String()
}

// serveSubsystem runs sftp-server with its stdin and stdout bound to each
// session channel that asks for the sftp subsystem.
func serveSubsystem(ctx context.Context, c net.Conn, cfg *ssh.ServerConfig, dir string) {
	conn, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	defer conn.Close()
	go ssh.DiscardRequests(reqs)
	go func() { <-ctx.Done(); conn.Close() }()
	for nc := range chans {
		ch, requests, err := nc.Accept()
		if err != nil {
			continue
		}
		go func() {
			for req := range requests {
				ok := req.Type == "subsystem" && len(req.Payload) > 4 && string(req.Payload[4:]) == "sftp"
				_ = req.Reply(ok, nil)
				if !ok {
					continue
				}
				cmd := exec.CommandContext(ctx, sftpServerPath, "-d", dir)
				cmd.Dir, cmd.Stdin, cmd.Stdout = dir, ch, ch
				go func() { _ = cmd.Run(); ch.Close() }()
			}
		}()
	}
}

// dialSFTP opens an SFTP client to the server at addr.
func dialSFTP(b *testing.B, addr, user string, auth ssh.AuthMethod) *sftp.Client {
	conn, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{auth},
		HostKeyCallback: ssh.InsecureIgnoreHostKey()})
	if err != nil {
		b.Fatal(err)
	}
	c, err := sftp.NewClient(conn, sftp.UseConcurrentWrites(true))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close(); conn.Close() })
	return c
}
