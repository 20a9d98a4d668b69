package podmanapi

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// fakeBuildServer answers POST /libpod/build like Podman does (a seam:
// real Podman builds in ../itest): it checks the query, reads the context
// and streams the JSON lines the test gives for the tag.
func fakeBuildServer(t *testing.T, streams map[string]string) (*Client, *[]string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "p.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var queries []string
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v4.0.0/libpod/build", func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("Content-Type") != "application/x-tar" || string(body) != "TAR" {
			w.WriteHeader(400)
			w.Write([]byte(`{"cause":"bad","message":"context is not the tar sent","response":400}`))
			return
		}
		s, ok := streams[r.URL.Query().Get("t")]
		if !ok {
			w.WriteHeader(400)
			w.Write([]byte(`{"cause":"bad parameter","message":"failed to parse query parameter 'secrets'","response":400}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		for _, l := range strings.SplitAfter(s, "\n") {
			w.Write([]byte(l))
			w.(http.Flusher).Flush()
		}
	})
	srv := unixhttp.NewServer(mux, zerologNop())
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return New(sock), &queries
}

func TestBuild(t *testing.T) {
	id := strings.Repeat("ab", 32)
	c, queries := fakeBuildServer(t, map[string]string{
		"localhost/ok:1": `{"stream":"STEP 1/2: FROM localhost/base\n"}` + "\n" +
			`{"stream":"STEP 2/2: RUN true\n"}` + "\n" + `{"stream":"--\u003e 1234\n"}` + "\n" +
			`{"stream":"COMMIT localhost/ok:1\n"}` + "\n" + `{"stream":"` + id + `\n"}` + "\n",
		"localhost/fail:1": `{"stream":"STEP 1/2: FROM localhost/base\n"}` + "\n" + `{"stream":"STEP 2/2: RUN false\n"}` + "\n" +
			`{"errorDetail":{"message":"building at STEP \"RUN false\": while running runtime: exit status 1\n"},"error":"building at STEP \"RUN false\": while running runtime: exit status 1\n"}` + "\n",
		"localhost/cut:1": `{"stream":"STEP 1/2: FROM localhost/base\n"}` + "\n" + `{"stream":"STEP 2/2: RU`,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var lines []string
	res, err := c.Build(ctx, strings.NewReader("TAR"), BuildOptions{
		Tags: []string{"localhost/ok:1"}, BuildArgs: map[string]string{"V": "1"}, Labels: map[string]string{"terok.hash": "h"},
		Secrets: []BuildSecret{{ID: "hostca", Src: "hostca"}},
	}, func(l BuildLine) error { lines = append(lines, l.Stream); return nil })
	if err != nil || res.ImageID != id || len(lines) != 5 || lines[1] != "STEP 2/2: RUN true\n" {
		t.Fatalf("build: %+v %v %q", res, err, lines)
	}
	q := (*queries)[0]
	for _, want := range []string{"dockerfile=Containerfile", "t=localhost%2Fok%3A1", "layers=true", "outputformat=application%2Fvnd.oci.image.manifest.v1%2Bjson", "pullpolicy=never", "forcerm=true",
		"secrets=%5B%22id%3Dhostca%2Csrc%3Dhostca%22%5D", "labels=%7B%22terok.hash%22%3A%22h%22%7D", "buildargs=%7B%22V%22%3A%221%22%7D"} {
		if !strings.Contains(q, want) {
			t.Errorf("query %s lacks %s", q, want)
		}
	}
	if strings.Contains(q, "nocache") {
		t.Errorf("query %s asks for no cache", q)
	}

	_, err = c.Build(ctx, strings.NewReader("TAR"), BuildOptions{Tags: []string{"localhost/fail:1"}, NoCache: true}, nil)
	var be *BuildError
	if !errors.Is(err, ErrBuildFailed) || !errors.As(err, &be) || be.Message != `building at STEP "RUN false": while running runtime: exit status 1` {
		t.Fatalf("failed build: %v", err)
	}
	if !strings.Contains((*queries)[1], "nocache=true") {
		t.Fatalf("no-cache build query %s", (*queries)[1])
	}

	_, err = c.Build(ctx, strings.NewReader("TAR"), BuildOptions{Tags: []string{"localhost/cut:1"}}, nil)
	if err == nil || errors.Is(err, ErrBuildFailed) || !strings.Contains(err.Error(), "did Podman stop?") {
		t.Fatalf("cut stream: %v", err)
	}

	_, err = c.Build(ctx, strings.NewReader("TAR"), BuildOptions{Tags: []string{"localhost/unknown:1"}}, nil)
	if !errors.Is(err, unixhttp.ErrBadRequest) || !strings.Contains(err.Error(), "failed to parse query parameter") {
		t.Fatalf("refused build: %v", err)
	}

	stop := errors.New("stop here")
	_, err = c.Build(ctx, strings.NewReader("TAR"), BuildOptions{Tags: []string{"localhost/ok:1"}}, func(BuildLine) error { return stop })
	if !errors.Is(err, stop) {
		t.Fatalf("callback error: %v", err)
	}
}

func TestBuildOptionsRefused(t *testing.T) {
	for _, tc := range []struct {
		o    BuildOptions
		want string
	}{
		{BuildOptions{Tags: []string{"a b"}}, "is not an image name"},
		{BuildOptions{PullPolicy: "sometimes"}, "pull policy"},
		{BuildOptions{Secrets: []BuildSecret{{ID: "a,b", Src: "x"}}}, "secret id"},
		{BuildOptions{Secrets: []BuildSecret{{ID: "ca", Src: "dir/ca"}}}, "plain file name"},
		{BuildOptions{Secrets: []BuildSecret{{ID: "ca", Src: ".."}}}, "plain file name"},
	} {
		if _, err := tc.o.query(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want %q", tc.o, err, tc.want)
		}
	}
}

func TestSplitRef(t *testing.T) {
	for ref, want := range map[string]string{
		"localhost/a:1":       "localhost/a 1",
		"localhost/a":         "localhost/a latest",
		"localhost:5000/a":    "localhost:5000/a latest",
		"localhost:5000/a:v2": "localhost:5000/a v2",
		"localhost/terok-agents:0123456789abcdef0123": "localhost/terok-agents 0123456789abcdef0123",
	} {
		r, tag := splitRef(ref)
		if r+" "+tag != want {
			t.Errorf("splitRef(%q) = %q %q, want %s", ref, r, tag, want)
		}
	}
}
