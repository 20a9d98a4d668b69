package itest

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
)

// TestBuild drives Podman's build endpoint through podmanapi.Build on
// both Podmans with a busybox base and no registry: a secret from the
// context reaches a RUN step and no layer; a cache mount persists between
// builds; labels land on the image and find it; an unchanged build reuses
// its cached steps; a failing step, an unknown instruction and a missing
// base fail with Podman's message and tag nothing.
func TestBuild(t *testing.T) {
	for _, tr := range tiers {
		t.Run(tr.name, func(t *testing.T) { testBuild(t, tr) })
	}
}

const buildSecret = "TOPSECRET-4711"

func contextTar(t *testing.T, containerfile string, secret bool) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	add := func(name, s string) {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(s))})
		tw.Write([]byte(s))
	}
	add("Containerfile", containerfile)
	if secret {
		add("ca", buildSecret+"\n")
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// build runs one build and returns the stream's text and the result.
func build(ctx context.Context, s *service, t *testing.T, tag, containerfile string, o podmanapi.BuildOptions) (string, podmanapi.BuildResult, error) {
	t.Helper()
	o.Tags = []string{tag}
	var out strings.Builder
	res, err := s.api.Build(ctx, bytes.NewReader(contextTar(t, containerfile, len(o.Secrets) > 0)), o, func(l podmanapi.BuildLine) error {
		out.WriteString(l.Stream)
		return nil
	})
	return out.String(), res, err
}

func testBuild(t *testing.T, tr tier) {
	e := newEnv(t, tr)
	s := e.start()
	ctx := ctxT(t, 4*time.Minute)
	tarball := busyboxTar(t, e.base)
	f, err := os.Open(tarball)
	if err != nil {
		t.Fatal(err)
	}
	const base = "localhost/tkpodman-busybox:build"
	if _, err := s.api.ImportImage(ctx, base, f); err != nil {
		t.Fatal(err)
	}
	f.Close()

	secret := []podmanapi.BuildSecret{{ID: "hostca", Src: "ca"}}
	cf := "FROM " + base + "\n" +
		"RUN --mount=type=secret,id=hostca --mount=type=cache,id=tk-cache,target=/cache cat /run/secrets/hostca > /dev/null && echo secret-read; ls /cache; echo one > /cache/first\n" +
		"RUN echo built > /built\n" +
		"LABEL tk.layer=\"one\"\n"
	out, res, err := build(ctx, s, t, "localhost/tk-build:one", cf, podmanapi.BuildOptions{Secrets: secret, Labels: map[string]string{"tk.hash": "h1"}})
	if err != nil {
		t.Fatalf("build: %v\n%s\n%s", err, out, s.logs())
	}
	if !strings.Contains(out, ": RUN --mount=type=secret,id=hostca") || !strings.Contains(out, "secret-read") || len(res.ImageID) != 64 {
		t.Fatalf("build output / id %q:\n%s", res.ImageID, out)
	}
	if strings.Contains(out, buildSecret) {
		t.Fatalf("the secret's content is in the build output:\n%s", out)
	}
	d, err := s.api.InspectImage(ctx, "localhost/tk-build:one")
	if err != nil || d.ID != res.ImageID || d.Labels["tk.hash"] != "h1" || d.Labels["tk.layer"] != "one" {
		t.Fatalf("inspect: %+v %v", d, err)
	}
	found, err := s.api.ImagesByLabel(ctx, "tk.hash=h1")
	if err != nil || len(found) == 0 || found[0].ID != res.ImageID {
		t.Fatalf("images by label: %+v %v", found, err)
	}
	if other, _ := s.api.ImagesByLabel(ctx, "tk.hash=nothing"); len(other) != 0 {
		t.Fatalf("label filter ignored: %+v", other)
	}
	hist, err := s.api.ImageHistory(ctx, res.ImageID)
	if err != nil || len(hist) < 3 || !strings.Contains(hist[0].CreatedBy+hist[1].CreatedBy, "LABEL") {
		t.Fatalf("history: %+v %v", hist, err)
	}

	// The secret reached no layer: not at its mount point, nowhere else.
	ctr := s.run(t, ctx, res.ImageID, "sh", "-c", "cat /run/secrets/hostca 2>&1; cat /built; grep -rl "+buildSecret[:9]+" /bin /etc /run /tmp /built 2>/dev/null; echo end")
	if strings.Contains(ctr, buildSecret) || !strings.Contains(ctr, "built\n") || !strings.HasSuffix(ctr, "end\n") {
		t.Fatalf("container of the built image:\n%s", ctr)
	}

	// The same build again: every step from the cache, the same image.
	out, again, err := build(ctx, s, t, "localhost/tk-build:again", cf, podmanapi.BuildOptions{Secrets: secret, Labels: map[string]string{"tk.hash": "h1"}})
	if err != nil || again.ImageID != res.ImageID || strings.Count(out, "Using cache") < 2 {
		t.Fatalf("unchanged build: %v, id %s vs %s\n%s", err, again.ImageID, res.ImageID, out)
	}
	// A changed step: the cache mount kept what the first build wrote.
	cf2 := "FROM " + base + "\nRUN --mount=type=cache,id=tk-cache,target=/cache ls /cache\n"
	out, _, err = build(ctx, s, t, "localhost/tk-build:cache", cf2, podmanapi.BuildOptions{})
	if err != nil || !strings.Contains(out, "first") {
		t.Fatalf("cache mount did not persist: %v\n%s", err, out)
	}
	// NoCache builds every step again.
	out, _, err = build(ctx, s, t, "localhost/tk-build:nocache", cf, podmanapi.BuildOptions{Secrets: secret, NoCache: true})
	if err != nil || strings.Contains(out, "Using cache") || !strings.Contains(out, "secret-read") {
		t.Fatalf("no-cache build: %v\n%s", err, out)
	}
	// TagImage moves a name.
	if err := s.api.TagImage(ctx, "localhost/tk-build:nocache", "localhost/tk-build:current"); err != nil {
		t.Fatal(err)
	}
	if err := s.api.TagImage(ctx, res.ImageID, "localhost/tk-build:current"); err != nil {
		t.Fatal(err)
	}
	if d, err := s.api.InspectImage(ctx, "localhost/tk-build:current"); err != nil || d.ID != res.ImageID {
		t.Fatalf("moved tag: %+v %v", d, err)
	}

	// Failures: Podman's message, and no image under the tag.
	for _, tc := range []struct{ name, cf, want string }{
		{"step", "FROM " + base + "\nRUN echo about-to-fail; exit 7\n", `exit status 7`},
		{"instruction", "FROM " + base + "\nBOGUS x\n", `Unknown instruction`},
		{"base", "FROM localhost/tk-nothere:1\nRUN true\n", `localhost/tk-nothere:1`},
	} {
		tag := "localhost/tk-build:fail-" + tc.name
		out, _, err := build(ctx, s, t, tag, tc.cf, podmanapi.BuildOptions{})
		var be *podmanapi.BuildError
		if !errors.Is(err, podmanapi.ErrBuildFailed) || !errors.As(err, &be) || !strings.Contains(be.Message, tc.want) {
			t.Fatalf("%s: err = %v, want a build error with %q\n%s", tc.name, err, tc.want, out)
		}
		if ok, _ := s.api.ImageExists(ctx, tag); ok {
			t.Fatalf("%s: a failed build tagged %s", tc.name, tag)
		}
	}
}

// run starts a container of image with no network and returns its output.
func (s *service) run(t *testing.T, ctx context.Context, image string, cmd ...string) string {
	t.Helper()
	cr, err := s.api.CreateContainer(ctx, podmanapi.CreateSpec{Image: image, Command: cmd, NetNS: &podmanapi.Namespace{Mode: "none"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.api.RemoveContainer(context.Background(), cr.ID, podmanapi.RemoveOptions{Force: true})
	if err := s.api.StartContainer(ctx, cr.ID); err != nil {
		t.Fatalf("start: %v\n%s", err, s.logs())
	}
	if _, err := s.api.WaitContainer(ctx, cr.ID); err != nil {
		t.Fatal(err)
	}
	var o bytes.Buffer
	if err := s.api.ContainerLogs(ctx, cr.ID, podmanapi.LogOptions{}, &o, &o); err != nil {
		t.Fatal(err)
	}
	return o.String()
}
