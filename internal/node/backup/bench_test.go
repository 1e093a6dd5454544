package backup

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// benchBytesEnv sets the size of the benchmark's folder, in bytes
// (default 2 GiB).
const benchBytesEnv = "BERTH_BACKUP_BENCH_BYTES"

// benchFolder makes a folder of about size bytes of mixed files: a tenth
// in many small text files, the rest in large files, half of them
// compressible like logs and worlds, half random like already compressed
// assets.
func benchFolder(b *testing.B, size int64) string {
	b.Helper()
	dir := b.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	// A vocabulary of a few thousand words, like a server's logs and
	// configs: a handful of words repeated is far easier (and, for
	// gzip's lazy matching, far slower) than real text.
	words := make([]string, 4096)
	for i := range words {
		w := make([]byte, 2+rng.IntN(9))
		for j := range w {
			w[j] = "etaoinshrdlucmfwypvbgkqjxz0123456789"[min(rng.IntN(36), rng.IntN(36))]
		}
		words[i] = string(w)
	}
	text := func(w io.Writer, n int64) {
		bw := bufio.NewWriterSize(w, 1<<20)
		for written := int64(0); written < n; {
			k, _ := bw.WriteString(words[rng.IntN(len(words))])
			_ = bw.WriteByte(" \n"[rng.IntN(8)/7])
			written += int64(k + 1)
		}
		_ = bw.Flush()
	}
	random := func(w io.Writer, n int64) {
		buf := make([]byte, 1<<20)
		for ; n > 0; n -= int64(len(buf)) {
			for i := 0; i+8 <= len(buf); i += 8 {
				v := rng.Uint64()
				for j := range 8 {
					buf[i+j] = byte(v >> (8 * j))
				}
			}
			_, _ = w.Write(buf[:min(n, int64(len(buf)))])
		}
	}
	write := func(name string, n int64, fill func(io.Writer, int64)) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		fill(f, n)
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	small := size / 10
	for i := 0; small > 0; i++ {
		n := int64(1<<10 + rng.IntN(15<<10))
		write(fmt.Sprintf("plugins/p%d/config-%d.yml", i%50, i), n, text)
		small -= n
	}
	// At least 16 large files, so that a small folder mixes both kinds.
	large := min(int64(64<<20), max(size/16, 1<<20))
	rest := size - size/10
	for i := 0; rest > 0; i++ {
		n := min(rest, large)
		if i%2 == 0 {
			write(fmt.Sprintf("world/region/r.%d.mca", i), n, text)
		} else {
			write(fmt.Sprintf("assets/pack-%d.zip", i), n, random)
		}
		rest -= n
	}
	return dir
}

// BenchmarkBackup archives a folder of mixed files with Write (parallel
// gzip) and, as the baseline in the same run, with `tar -czf`, both to a
// file on the same disk. MB/s is of the folder's bytes; ratio is the
// archive's size over the folder's.
func BenchmarkBackup(b *testing.B) {
	size := int64(2 << 30)
	if s := os.Getenv(benchBytesEnv); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			b.Fatalf("%s: must be a positive number of bytes", benchBytesEnv)
		}
		size = n
	}
	dir := benchFolder(b, size)
	out := filepath.Join(b.TempDir(), "backup.tar.gz")
	ratio := func(b *testing.B) {
		info, err := os.Stat(out)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(info.Size())/float64(size), "ratio")
	}
	b.Run("pgzip", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			root, err := os.OpenRoot(dir)
			if err != nil {
				b.Fatal(err)
			}
			f, err := os.Create(out)
			if err != nil {
				b.Fatal(err)
			}
			if err := Write(b.Context(), root, f); err != nil {
				b.Fatal(err)
			}
			f.Close()
			root.Close()
		}
		ratio(b)
	})
	b.Run("tar-czf", func(b *testing.B) {
		if _, err := exec.LookPath("tar"); err != nil {
			b.Skip("tar is not installed")
		}
		b.SetBytes(size)
		for b.Loop() {
			if out, err := exec.Command("tar", "-czf", out, "-C", dir, ".").CombinedOutput(); err != nil {
				b.Fatalf("tar: %v\n%s", err, out)
			}
		}
		ratio(b)
	})
}
