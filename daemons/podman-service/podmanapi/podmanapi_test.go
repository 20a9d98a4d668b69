package podmanapi

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

func frame(stream byte, s string) []byte {
	h := make([]byte, 8)
	h[0] = stream
	binary.BigEndian.PutUint32(h[4:], uint32(len(s)))
	return append(h, s...)
}

func TestDemux(t *testing.T) {
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	tests := []struct {
		name           string
		in             []byte
		stdout, stderr string
		err            error
	}{
		{"empty", nil, "", "", nil},
		{"both streams", cat(frame(1, "a\n"), frame(2, "e\n"), frame(1, "b\n")), "a\nb\n", "e\n", nil},
		{"stdin stream goes to stdout", frame(0, "x"), "x", "", nil},
		{"empty frame", cat(frame(1, ""), frame(1, "y")), "y", "", nil},
		{"bad stream byte", cat(frame(1, "a"), []byte{7, 0, 0, 0, 0, 0, 0, 1, 'z'}), "a", "", ErrBadFrame},
		{"raw text", []byte("hello world, not framed"), "", "", ErrBadFrame},
		{"cut payload", frame(1, "abcdef")[:10], "ab", "", ErrBadFrame},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var o, e bytes.Buffer
			err := Demux(bytes.NewReader(tc.in), &o, &e)
			if !errors.Is(err, tc.err) && !(tc.err == nil && err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if o.String() != tc.stdout || e.String() != tc.stderr {
				t.Fatalf("got %q/%q, want %q/%q", o.String(), e.String(), tc.stdout, tc.stderr)
			}
		})
	}
}

func mkTar(t *testing.T, entries map[string]byte) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for name, typ := range entries {
		h := &tar.Header{Name: name, Typeflag: typ, Mode: 0o755}
		if typ == tar.TypeSymlink {
			h.Linkname = "busybox"
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	return b.Bytes()
}

func TestCheckRootfs(t *testing.T) {
	rootfs := mkTar(t, map[string]byte{"./": tar.TypeDir, "./bin/": tar.TypeDir, "./bin/busybox": tar.TypeReg, "./bin/sh": tar.TypeSymlink})
	usrMerged := mkTar(t, map[string]byte{"usr/bin/sh": tar.TypeReg, "bin": tar.TypeSymlink})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(rootfs)
	zw.Close()
	tests := []struct {
		name string
		in   []byte
		want string // "" for ok, else a substring of the error
	}{
		{"busybox rootfs", rootfs, ""},
		{"usr-merged rootfs", usrMerged, ""},
		{"gzip rootfs", gz.Bytes(), ""},
		{"folder above the rootfs", mkTar(t, map[string]byte{"rootfs/bin/sh": tar.TypeReg}), "no bin/sh"},
		{"sh is a directory", mkTar(t, map[string]byte{"bin/sh/": tar.TypeDir}), "no bin/sh"},
		{"not a tar", []byte(strings.Repeat("garbage ", 200)), "not a tar archive"},
		{"empty input", nil, "empty"},
		{"xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0, 1, 2}, "decompress it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckRootfs(bytes.NewReader(tc.in))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrNotRootfs) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrNotRootfs mentioning %q", err, tc.want)
			}
		})
	}
}

// TestErrorMapping fakes Podman's error answers on a unix socket (a seam:
// the real Podman is exercised in ../itest).
func TestErrorMapping(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "p.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v4.0.0/libpod/containers/gone/json", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(404)
		w.Write([]byte(`{"cause":"no such container","message":"no container with name or ID \"gone\" found: no such container","response":404}`))
	})
	mux.HandleFunc("POST /v4.0.0/libpod/containers/idle/kill", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		w.Write([]byte(`{"cause":"container state improper","message":"can only kill running containers: container state improper","response":500}`))
	})
	mux.HandleFunc("GET /v4.0.0/libpod/images/x/exists", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	mux.HandleFunc("GET /_ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Libpod-API-Version", "9.9.9")
		w.Write([]byte("OK"))
	})
	srv := unixhttp.NewServer(mux, zerologNop())
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := New(sock)
	_, err = c.InspectContainer(ctx, "gone")
	if !errors.Is(err, unixhttp.ErrNotFound) || !errors.Is(err, ErrNotFound) || unixhttp.StatusOf(err) != 404 || !strings.Contains(err.Error(), `"gone" found`) {
		t.Fatalf("404: %v", err)
	}
	if err := c.KillContainer(ctx, "idle", "TERM"); !errors.Is(err, unixhttp.ErrConflict) || unixhttp.StatusOf(err) != 500 {
		t.Fatalf("state improper: %v", err)
	}
	if ok, err := c.ImageExists(ctx, "x"); !ok || err != nil {
		t.Fatalf("exists: %v %v", ok, err)
	}
	if ok, err := c.ImageExists(ctx, "y"); ok || err != nil {
		t.Fatalf("missing image exists: %v %v", ok, err)
	}
	if p, err := c.Ping(ctx); err != nil || p.LibpodAPIVersion != "9.9.9" {
		t.Fatalf("ping: %+v %v", p, err)
	}
	if _, err := New(filepath.Join(t.TempDir(), "none.sock")).Ping(ctx); !errors.Is(err, unixhttp.ErrUnavailable) || !strings.Contains(err.Error(), "none.sock") {
		t.Fatalf("down socket: %v, want unixhttp.ErrUnavailable naming the socket", err)
	}
	if _, err := New(filepath.Join(t.TempDir(), "none.sock")).Health(ctx); !errors.Is(err, unixhttp.ErrUnavailable) {
		t.Fatalf("Health of a down socket: %v, want unixhttp.ErrUnavailable", err)
	}
}
