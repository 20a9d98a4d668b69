package images

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
)

// storeFake is Podman's image store: name → id.
type storeFake struct {
	mu      sync.Mutex
	tags    map[string]string
	removed []string
	got     []byte
}

func (s *storeFake) ListImages(ctx context.Context) ([]podmanapi.Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []podmanapi.Image
	for name, id := range s.tags {
		out = append(out, podmanapi.Image{ID: id, RepoTags: []string{name}})
	}
	return out, nil
}

func (s *storeFake) ImportImage(ctx context.Context, ref string, tarball io.Reader) (string, error) {
	b, err := io.ReadAll(tarball)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got, s.tags[ref] = b, "sha256:new"
	return "sha256:new", err
}

func (s *storeFake) RemoveImage(ctx context.Context, name string, force bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removed = append(s.removed, name)
	return nil
}

func rootfs(t *testing.T, shell bool) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	name := "etc/hostname"
	if shell {
		name = "bin/sh"
	}
	tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777})
	tw.Close()
	return b.Bytes()
}

// TestImportReplaces: the upload reaches Podman whole once checked; the
// image the name pointed to before is removed; a tarball without a shell
// or without a name never reaches Podman; the name is importing only
// while the import runs.
func TestImportReplaces(t *testing.T) {
	st := &storeFake{tags: map[string]string{"localhost/mine:1": "sha256:old"}}
	s := NewService(st, t.TempDir())
	up := rootfs(t, true)
	im, err := s.Import(context.Background(), "localhost/mine:1", bytes.NewReader(up))
	if err != nil || im.ID != "sha256:new" {
		t.Fatalf("%+v %v", im, err)
	}
	if !bytes.Equal(st.got, up) || strings.Join(st.removed, ",") != "sha256:old" {
		t.Fatalf("imported %d bytes (sent %d), removed %v", len(st.got), len(up), st.removed)
	}
	if s.Importing("localhost/mine:1") {
		t.Fatal("still importing after the import")
	}
	st.got = nil
	for _, tc := range []struct{ name, body, want string }{
		{"localhost/mine:2", string(rootfs(t, false)), "no bin/sh"},
		{"", string(up), "give the image name"},
		{"a b", string(up), "give the image name"},
	} {
		_, err := s.Import(context.Background(), tc.name, strings.NewReader(tc.body))
		if !errors.Is(err, unixhttp.ErrBadRequest) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v", tc.name, err)
		}
	}
	if st.got != nil {
		t.Fatal("a refused upload reached Podman")
	}
	if !SameImage("localhost/x", "localhost/x:latest") || SameImage("localhost:5000/x", "localhost:5000/x:1") {
		t.Fatal("SameImage")
	}
}
