package images

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// Store is what the Service needs of Podman's images (podmanapi.Client).
type Store interface {
	ListImages(ctx context.Context) ([]podmanapi.Image, error)
	ImportImage(ctx context.Context, ref string, tarball io.Reader) (string, error)
	RemoveImage(ctx context.Context, name string, force bool) error
}

// Service is what every front end does with task images: list them and
// import a root filesystem tarball; and, with a Builder (WithBuilder),
// build a project's layered image and tell whether it is current. It knows which images are being
// imported, so a task of one waits instead of failing (Importing).
type Service struct {
	podman Store
	tmpDir string

	builder *Builder
	life    context.Context // builds end with it
	publish func(webapi.Event)

	mu        sync.Mutex
	importing map[string]int
	building  map[string]int
}

// NewService returns the service; uploads are spooled in tmpDir ("": the
// system's temporary directory).
func NewService(p Store, tmpDir string) *Service {
	return &Service{podman: p, tmpDir: tmpDir, importing: map[string]int{}, building: map[string]int{}}
}

// List is every image in Podman's store.
func (s *Service) List(ctx context.Context) ([]webapi.Image, error) {
	ims, err := s.podman.ListImages(ctx)
	if err != nil {
		return nil, fail.Daemon("podman", "list images", err)
	}
	out := []webapi.Image{}
	for _, im := range ims {
		out = append(out, webapi.Image{ID: im.ID, Names: im.RepoTags, Size: im.Size, Created: im.Created})
	}
	return out, nil
}

// importTimeout bounds an import once its upload has arrived.
const importTimeout = 10 * time.Minute

// Import makes the root filesystem tarball in body image name. The
// upload is spooled to a file and checked (a root filesystem with a
// shell) before Podman sees it; once it is, the import goes on when the
// caller goes away (a change runs to its end), bounded by importTimeout.
// The image name pointed to before is removed unless a container uses
// it. A task of this image started meanwhile waits for the import.
func (s *Service) Import(ctx context.Context, name string, body io.Reader) (webapi.Image, error) {
	if name == "" || strings.ContainsAny(name, " \t\n") {
		return webapi.Image{}, fail.BadRequest("image name %q: give the image name, e.g. ?name=localhost/mine:latest", name)
	}
	defer s.begin(name)()
	f, err := os.CreateTemp(s.tmpDir, "terok-import-*.tar")
	if err != nil {
		return webapi.Image{}, fmt.Errorf("spool the upload: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := io.Copy(f, body); err != nil {
		return webapi.Image{}, fail.BadRequest("read the tarball: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return webapi.Image{}, err
	}
	if err := podmanapi.CheckRootfs(f); err != nil {
		return webapi.Image{}, fail.BadRequest("%w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return webapi.Image{}, err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), importTimeout)
	defer cancel()
	old := ""
	if ims, err := s.podman.ListImages(ctx); err == nil {
		for _, im := range ims {
			if slices.Contains(im.RepoTags, name) {
				old = im.ID
			}
		}
	}
	id, err := s.podman.ImportImage(ctx, name, f)
	if err != nil {
		return webapi.Image{}, fail.Daemon("podman", "import "+name, err)
	}
	// The image the name pointed to is left without a name: remove it
	// unless a container still uses it (Podman refuses then).
	bare := func(s string) string { return strings.TrimPrefix(s, "sha256:") }
	if old != "" && bare(old) != bare(id) {
		_ = s.podman.RemoveImage(ctx, old, false)
	}
	return webapi.Image{ID: id, Names: []string{name}}, nil
}

// begin marks an import of image as running until done is called.
func (s *Service) begin(image string) (done func()) {
	s.mu.Lock()
	s.importing[image]++
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		if s.importing[image]--; s.importing[image] <= 0 {
			delete(s.importing, image)
		}
		s.mu.Unlock()
	}
}

// Importing reports whether image is being imported through the Service.
func (s *Service) Importing(image string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name := range s.importing {
		if SameImage(name, image) {
			return true
		}
	}
	return false
}

// SameImage compares image names, "localhost/x" and "localhost/x:latest"
// being the same.
func SameImage(a, b string) bool {
	norm := func(s string) string {
		if tagColon(s) < 0 {
			return s + ":latest"
		}
		return s
	}
	return norm(a) == norm(b)
}

// tagColon returns the index of the tag's colon, -1 when there is no tag
// (a colon of a registry's port is not one).
func tagColon(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		switch s[i] {
		case ':':
			return i
		case '/':
			return -1
		}
	}
	return -1
}
