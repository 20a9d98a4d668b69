package server

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/terok-ai/terok-in-docker/supervisor/internal/xmlrpc"
)

// The expectations are what Python supervisor 4.2's readFile and tailFile
// return for the same 10-byte file.
func TestReadFileLikePython(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	os.WriteFile(path, []byte("0123456789"), 0o644)
	cases := []struct {
		off, n int64
		want   string
		fault  int
	}{
		{0, 0, "0123456789", 0},
		{-3, 0, "789", 0},
		{-30, 0, "0123456789", 0},
		{2, 3, "234", 0},
		{8, 30, "89", 0},
		{20, 0, "", 0},
		{-3, 2, "", FaultBadArguments},
		{1, -2, "", FaultBadArguments},
	}
	for _, c := range cases {
		got, err := ReadFile(path, c.off, c.n)
		var f *xmlrpc.Fault
		code := 0
		if errors.As(err, &f) {
			code = f.Code
		}
		if got != c.want || code != c.fault {
			t.Errorf("ReadFile(%d, %d) = %q, fault %d; want %q, fault %d", c.off, c.n, got, code, c.want, c.fault)
		}
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "missing"), 0, 0); err == nil {
		t.Error("missing file read without fault")
	}
}

func TestTailFileLikePython(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	os.WriteFile(path, []byte("0123456789"), 0o644)
	cases := []struct {
		off, n   int64
		want     string
		offset   int64
		overflow bool
	}{
		{0, 4, "6789", 10, true},
		{0, 100, "0123456789", 10, false},
		{8, 4, "6789", 10, false},
		{10, 4, "", 10, false},
		{12, 4, "", 10, false},
	}
	for _, c := range cases {
		got, off, of := TailFile(path, c.off, c.n)
		if got != c.want || off != c.offset || of != c.overflow {
			t.Errorf("TailFile(%d, %d) = %q %d %v; want %q %d %v", c.off, c.n, got, off, of, c.want, c.offset, c.overflow)
		}
	}
}
