package itest

import (
	"archive/tar"
	"io"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
)

func hasTag(imgs []podmanapi.Image, tag string) bool {
	for _, i := range imgs {
		for _, t := range i.RepoTags {
			if t == tag {
				return true
			}
		}
	}
	return false
}

func writeTar(t *testing.T, path string, files map[string]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for n, c := range files {
		tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(c))})
		tw.Write([]byte(c))
	}
	tw.Close()
	os.Chmod(path, 0o644)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) uint16 { return uint16(testkit.FreePort(t)) }

// readPort connects to 127.0.0.1:port until something answers (bounded)
// and returns what it sends before closing.
func readPort(t *testing.T, port uint16) string {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(int(port))
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			b, _ := io.ReadAll(c)
			c.Close()
			if len(b) > 0 {
				return string(b)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("nothing answered on %s", addr)
	return ""
}
