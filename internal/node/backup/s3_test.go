package backup

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

const testBucket = "berth-backups"

// fakeS3 is an S3-compatible server on a loopback listener: gofakes3 in
// memory, behind a handler that counts the parts uploaded and can cut
// part uploads off.
type fakeS3 struct {
	url   string
	parts atomic.Int64
	// failFrom, when above zero, closes the connection of every part
	// upload numbered from it on, as a network failing mid-upload does.
	failFrom atomic.Int64
}

func startFakeS3(t *testing.T) *fakeS3 {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(testBucket); err != nil {
		t.Fatal(err)
	}
	f := &fakeS3{}
	s3 := gofakes3.New(backend).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Method == http.MethodPut && q.Has("partNumber") && q.Has("uploadId") {
			if n, _ := strconv.ParseInt(q.Get("partNumber"), 10, 64); f.failFrom.Load() > 0 && n >= f.failFrom.Load() {
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					conn.Close()
				}
				return
			}
			f.parts.Add(1)
		}
		s3.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *fakeS3) config() S3Config {
	return S3Config{
		Endpoint:  strings.TrimPrefix(f.url, "http://"),
		Bucket:    testBucket,
		Region:    "us-east-1",
		Insecure:  true,
		AccessKey: "test-access",
		SecretKey: "test-secret-key",
		PartSize:  minPartSize,
	}
}

// client is a plain minio client of the fake server, for the checks.
func (f *fakeS3) client(t *testing.T) *minio.Client {
	t.Helper()
	c, err := minio.New(strings.TrimPrefix(f.url, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4("test-access", "test-secret-key", ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestS3StreamsAMultipartUploadAndServesRanges(t *testing.T) {
	f := startFakeS3(t)
	data := t.TempDir()
	// Random bytes do not compress: 16 MiB make four 5 MiB parts.
	randomFile(t, filepath.Join(data, "world.bin"), 16<<20)
	writeTree(t, data, map[string]string{"server.properties": "motd=hi"})
	dir := t.TempDir()
	s := newTestService(t, dir, f.config())
	if _, err := s.Create("inst-1", nodeapi.BackupRequest{ID: "b1"}, folderSource(data, &recorder{})); err != nil {
		t.Fatal(err)
	}
	st := waitBackup(t, s, "inst-1", "b1")
	if st.State != nodeapi.BackupCompleted {
		t.Fatalf("backup = %+v, want completed", st)
	}
	if n := f.parts.Load(); n < 3 {
		t.Errorf("upload sent %d parts, want a multipart upload of more than 2", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "inst-1", "b1.tar.gz")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an S3 backup left a copy on the node's disk: %v", err)
	}
	info, err := f.client(t).StatObject(t.Context(), testBucket, "inst-1/b1.tar.gz", minio.StatObjectOptions{})
	if err != nil || info.Size != st.Bytes {
		t.Fatalf("object = %d bytes, %v; want %d", info.Size, err, st.Bytes)
	}
	whole := readAll(t, s, "inst-1", "b1")
	if e := readArchive(t, bytes.NewReader(whole)); e["server.properties"].body != "motd=hi" {
		t.Error("the object is not the folder's archive")
	}

	// A range: seek, then read, as http.ServeContent does.
	r, _, err := s.Open(t.Context(), "inst-1", "b1")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	off := int64(7<<20 + 13)
	if _, err := r.Seek(off, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 1000)
	if _, err := io.ReadFull(r, part); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(part, whole[off:off+1000]) {
		t.Error("a ranged read differs from the archive's bytes")
	}

	var fetched bytes.Buffer
	if _, err := s.Restore("inst-1", "b1", func(ctx context.Context, fetch func(context.Context, io.Writer) error) error {
		return fetch(ctx, &fetched)
	}); err != nil {
		t.Fatal(err)
	}
	if end := waitRestore(t, s, "inst-1", "b1"); end.Restore != nodeapi.RestoreCompleted || !bytes.Equal(fetched.Bytes(), whole) {
		t.Errorf("restore from S3 = %+v, fetched %d bytes; want completed with the archive", end, fetched.Len())
	}

	if err := s.Delete(t.Context(), "inst-1", "b1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client(t).StatObject(t.Context(), testBucket, "inst-1/b1.tar.gz", minio.StatObjectOptions{}); minio.ToErrorResponse(err).Code != "NoSuchKey" {
		t.Errorf("object after Delete: %v, want NoSuchKey", err)
	}
}

func TestS3FailedUploadLeavesNoObjectAndNoIncompleteUpload(t *testing.T) {
	f := startFakeS3(t)
	f.failFrom.Store(2)
	data := t.TempDir()
	randomFile(t, filepath.Join(data, "world.bin"), 12<<20)
	s := newTestService(t, t.TempDir(), f.config())
	rec := &recorder{}
	if _, err := s.Create("inst-1", nodeapi.BackupRequest{ID: "b1", After: "save-on"}, folderSource(data, rec)); err != nil {
		t.Fatal(err)
	}
	st := waitBackup(t, s, "inst-1", "b1")
	if st.State != nodeapi.BackupFailed || st.Error == "" {
		t.Fatalf("backup = %+v, want failed with a reason", st)
	}
	if f.parts.Load() < 1 {
		t.Fatal("no part was uploaded before the failure: the test proves nothing")
	}
	c := f.client(t)
	for u := range c.ListIncompleteUploads(t.Context(), testBucket, "", true) {
		if u.Err != nil {
			t.Fatalf("list uploads: %v", u.Err)
		}
		t.Errorf("incomplete upload left: %s %s", u.Key, u.UploadID)
	}
	if _, err := c.StatObject(t.Context(), testBucket, "inst-1/b1.tar.gz", minio.StatObjectOptions{}); minio.ToErrorResponse(err).Code != "NoSuchKey" {
		t.Errorf("object after a failed upload: %v, want NoSuchKey", err)
	}
	if len(rec.typed()) != 1 {
		t.Errorf("commands = %q, want save-on after the failure", rec.typed())
	}
}

func TestS3ConfigNamesWhatIsMissing(t *testing.T) {
	base := S3Config{Endpoint: "s3.example.com", Bucket: "b", AccessKey: "a", SecretKey: "s"}
	tests := []struct {
		name   string
		change func(*S3Config)
		want   string
	}{
		{"scheme", func(c *S3Config) { c.Endpoint = "https://s3.example.com" }, "backup-s3-endpoint"},
		{"bucket", func(c *S3Config) { c.Bucket = "" }, "backup-s3-bucket"},
		{"keys", func(c *S3Config) { c.SecretKey = "" }, "BERTH_BACKUP_S3_SECRET_KEY"},
		{"part size", func(c *S3Config) { c.PartSize = 1 << 20 }, "part size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.change(&c)
			_, err := New(t.TempDir(), c, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want an error naming %s", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "s3cr3t") {
				t.Error("the error quotes the secret key")
			}
		})
	}
}
