package itest

import (
	"archive/tar"
	"os"
	"testing"

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
