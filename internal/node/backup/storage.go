package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/files"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Where an archive is kept, as its record says.
const (
	StorageLocal = "local"
	StorageS3    = "s3"
)

// storage keeps archives by key ("<instance>/<backup>.tar.gz").
type storage interface {
	// put stores what r yields as key. It returns once r is drained and
	// the archive is complete; on failure nothing of key is left, and r
	// is left for the caller to close.
	put(ctx context.Context, key string, r io.Reader) error
	// open reads a stored archive, seekably.
	open(ctx context.Context, key string) (io.ReadSeekCloser, error)
	// remove deletes key, complete or not; a missing key is no error.
	remove(ctx context.Context, key string) error
}

// local keeps archives in a folder of the node's disk. An archive is
// written under a temporary name and renamed when complete
// (files.WriteAtomic), so a crash leaves only a temporary file, which
// sweepTemp removes.
type local struct {
	dir string
}

func (l local) root() (*os.Root, error) {
	if err := os.MkdirAll(l.dir, 0o700); err != nil {
		return nil, err
	}
	return os.OpenRoot(l.dir)
}

func (l local) put(ctx context.Context, key string, r io.Reader) error {
	root, err := l.root()
	if err != nil {
		return err
	}
	defer root.Close()
	if err := root.MkdirAll(path.Dir(key), 0o700); err != nil {
		return err
	}
	return files.WriteAtomic(root, key, 0o600, func(f *os.File) error {
		_, err := io.Copy(f, r)
		return err
	})
}

func (l local) open(_ context.Context, key string) (io.ReadSeekCloser, error) {
	root, err := l.root()
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return root.Open(key)
}

func (l local) remove(_ context.Context, key string) error {
	root, err := l.root()
	if err != nil {
		return err
	}
	defer root.Close()
	if err := root.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// S3Config is an S3-compatible bucket that backups go to.
type S3Config struct {
	// Endpoint is host[:port] of the S3 API, without a scheme.
	Endpoint string
	// Bucket is the bucket the archives go to, as <instance>/<backup>.tar.gz.
	Bucket string
	// Region is the bucket's region; empty lets the client find it.
	Region string
	// Insecure talks plain HTTP instead of HTTPS.
	Insecure bool
	// AccessKey and SecretKey are the credentials. They come from the
	// environment, never from flags, and are never logged.
	AccessKey string
	SecretKey string
	// PartSize is the size of each part of the multipart upload, and so
	// the memory one upload buffers; 0 means DefaultPartSize.
	PartSize int64
}

// DefaultPartSize is the S3 part size when none is set: with S3's limit
// of 10,000 parts, archives up to 640 GiB.
const DefaultPartSize = 64 << 20

// minPartSize is S3's least part size (all but the last part).
const minPartSize = 5 << 20

// Enabled reports whether a bucket is configured.
func (c S3Config) Enabled() bool { return c.Endpoint != "" }

// check refuses a configuration that cannot work, naming the flag.
func (c S3Config) check() error {
	switch {
	case strings.Contains(c.Endpoint, "://"):
		return errors.New("backup-s3-endpoint: must be host[:port], without a scheme (-backup-s3-insecure selects http)")
	case c.Bucket == "":
		return errors.New("backup-s3-bucket: is required with -backup-s3-endpoint")
	case c.AccessKey == "" || c.SecretKey == "":
		return errors.New("BERTH_BACKUP_S3_ACCESS_KEY and BERTH_BACKUP_S3_SECRET_KEY must be set with -backup-s3-endpoint")
	case c.PartSize != 0 && c.PartSize < minPartSize:
		return fmt.Errorf("backup S3 part size: must be at least %d bytes", minPartSize)
	}
	return nil
}

// bucket keeps archives in an S3-compatible bucket.
type bucket struct {
	client   *minio.Client
	name     string
	partSize uint64
}

func newBucket(c S3Config) (*bucket, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	client, err := minio.New(c.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(c.AccessKey, c.SecretKey, ""),
		Secure: !c.Insecure,
		Region: c.Region,
	})
	if err != nil {
		// minio's message may quote the endpoint, never the keys.
		return nil, fmt.Errorf("backup-s3-endpoint: %w", err)
	}
	ps := uint64(c.PartSize)
	if ps == 0 {
		ps = DefaultPartSize
	}
	return &bucket{client: client, name: c.Bucket, partSize: ps}, nil
}

// cleanupTimeout bounds the cleanup of a failed upload, which runs even
// when the backup's own context has ended.
const cleanupTimeout = time.Minute

// put streams r to the bucket as a multipart upload of unknown size: the
// client buffers one part at a time, never the whole archive, and retries
// each part request on its own. A failed upload is aborted, so no part
// is left for the bucket to keep (and bill).
//
// Each part carries its MD5 (Content-MD5), which the server checks,
// instead of a SHA-256 of its payload: over plain HTTP the client would
// otherwise sign the payload in aws-chunked encoding, which costs a second
// hash of every byte and which not every S3-compatible server decodes in
// parts (gofakes3 does not).
func (b *bucket) put(ctx context.Context, key string, r io.Reader) error {
	_, err := b.client.PutObject(ctx, b.name, key, r, -1, minio.PutObjectOptions{
		PartSize:             b.partSize,
		ContentType:          "application/gzip",
		SendContentMd5:       true,
		DisableContentSha256: true,
	})
	if err == nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if rerr := b.remove(cctx, key); rerr != nil {
		return fmt.Errorf("%w (and the incomplete upload could not be removed: %w)", err, rerr)
	}
	return err
}

// open reads the object; each read after a seek is a ranged GetObject,
// so a download resumed with Range fetches only what it asks. The object
// is looked up first, so that a missing one fails here rather than in
// the middle of an answer.
func (b *bucket) open(ctx context.Context, key string) (io.ReadSeekCloser, error) {
	obj, err := b.client.GetObject(ctx, b.name, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		return nil, err
	}
	return obj, nil
}

// remove deletes the object and any incomplete upload of it.
func (b *bucket) remove(ctx context.Context, key string) error {
	if err := b.client.RemoveIncompleteUpload(ctx, b.name, key); err != nil && !isNoSuchKey(err) {
		return err
	}
	if err := b.client.RemoveObject(ctx, b.name, key, minio.RemoveObjectOptions{}); err != nil && !isNoSuchKey(err) {
		return err
	}
	return nil
}

func isNoSuchKey(err error) bool {
	code := minio.ToErrorResponse(err).Code
	return code == "NoSuchKey" || code == "NoSuchUpload"
}
