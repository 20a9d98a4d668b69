package testkit

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// BusyboxRootfs is a root filesystem tar of the static busybox
// (/bin/busybox, else the one on PATH; the test is skipped, or fails in
// strict mode, without one) with the given directories (each ending in
// /), the applets as links to it in bin/, and an /etc/passwd for root.
func BusyboxRootfs(t *testing.T, dirs, applets []string) []byte {
	t.Helper()
	bb := "/bin/busybox"
	if _, err := os.Stat(bb); err != nil {
		bb = RequireCommand(t, "busybox")
		if p, err := filepath.EvalSymlinks(bb); err == nil {
			bb = p
		}
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	put := func(h *tar.Header, body []byte) {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("busybox rootfs: %s: %v", h.Name, err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatalf("busybox rootfs: %s: %v", h.Name, err)
		}
	}
	for _, d := range append([]string{"bin/", "etc/", "tmp/"}, dirs...) {
		put(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	}
	put(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(data))}, data)
	for _, a := range applets {
		put(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil)
	}
	passwd := []byte("root:x:0:0:root:/root:/bin/sh\n")
	put(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(passwd))}, passwd)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
