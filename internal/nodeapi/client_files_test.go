package nodeapi

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestFileCallsEncodePathsAndCarryTheToken(t *testing.T) {
	srv, got := fakeNode(t, http.StatusOK, `{"path":"a b","entries":[]}`)
	c := NewClient(srv.URL, token, nil)
	if _, err := c.ListFiles(context.Background(), "inst-1", "a b/&x=1/%2e%2e"); err != nil {
		t.Fatal(err)
	}
	r := (*got)[0]
	if r.path != "/v1/instances/inst-1/files" || r.rawQuery != "path=a+b%2F%26x%3D1%2F%252e%252e" || r.auth != "Bearer "+token {
		t.Errorf("request = %+v", r)
	}
	if _, err := c.MakeDir(context.Background(), "../x", "p"); err == nil {
		t.Error("an invalid instance ID was sent")
	}
}

func TestIsInstanceNotFoundTellsAMissingInstanceFromAMissingFile(t *testing.T) {
	for body, want := range map[string]bool{
		`{"error":"instance not found"}`:           true,
		`{"error":"path: \"x\" does not exist"}`:   false,
		`{"error":"path: \"instance not found\""}`: false,
	} {
		srv, _ := fakeNode(t, http.StatusNotFound, body)
		_, err := NewClient(srv.URL, token, nil).ListFiles(context.Background(), "inst-1", "x")
		if !IsNotFound(err) || IsInstanceNotFound(err) != want {
			t.Errorf("%s: IsInstanceNotFound = %v, want %v (%v)", body, IsInstanceNotFound(err), want, err)
		}
	}
}

func TestDownloadStreamsTheBodyAndForwardsRange(t *testing.T) {
	var gotRange string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotRange = r.Header.Get("Range")
		w.Header().Set("Content-Range", "bytes 0-4/10")
		w.WriteHeader(http.StatusPartialContent)
		io.WriteString(w, "01234")
	}))
	defer srv.Close()
	s, err := NewClient(srv.URL, token, nil).DownloadFile(context.Background(), "inst-1", "f", http.Header{"Range": {"bytes=0-4"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(s.Body)
	s.Close()
	if gotRange != "bytes=0-4" || s.Status != http.StatusPartialContent || string(b) != "01234" || s.Header.Get("Content-Range") == "" {
		t.Errorf("stream = %d %q %v (range sent %q)", s.Status, b, s.Header, gotRange)
	}
}

func TestUploadStreamsItsBodyWithItsLength(t *testing.T) {
	var got struct {
		ct     string
		length int64
		body   string
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.ct, got.length, got.body = r.Header.Get("Content-Type"), r.ContentLength, string(b)
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"files":[{"name":"a","path":"d/a","size":3}]}`)
	}))
	defer srv.Close()
	res, err := NewClient(srv.URL, token, nil).UploadFiles(context.Background(), "inst-1", "d",
		"multipart/form-data; boundary=x", strings.NewReader("abc"), 3)
	if err != nil || len(res.Files) != 1 || res.Files[0].Path != "d/a" {
		t.Fatalf("upload = %+v, %v", res, err)
	}
	if got.ct != "multipart/form-data; boundary=x" || got.length != 3 || got.body != "abc" {
		t.Errorf("node received %+v", got)
	}
}

func TestStreamGivesUpWhenTheNodeDoesNotAnswer(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := NewClient(srv.URL, token, nil).FileContent(ctx, "inst-1", "f"); err == nil {
		t.Fatal("a silent node gave a stream")
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("gave up after %s", time.Since(start))
	}
}
