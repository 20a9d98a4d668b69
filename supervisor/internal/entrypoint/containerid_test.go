package entrypoint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestContainerID(t *testing.T) {
	for _, tc := range []struct {
		name, file, hostname, want string
	}{
		{"docker mountinfo", "mountinfo-docker", "builder", "3f2a1b0c9d8e"},
		{"podman mountinfo", "mountinfo-podman", "", "9c1d2e3f4a5b"},
		{"host network: the hostname is the host's", "mountinfo-none", "buildbox", ""},
		{"default hostname is the short id", "mountinfo-none", "0123456789ab", "0123456789ab"},
		{"no mountinfo, a hostname that is no id", "", "abcdef", ""},
		{"an id of the wrong length is no id", "", "0123456789abc", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mi *strings.Reader
			if tc.file != "" {
				b, err := os.ReadFile(filepath.Join("testdata", tc.file))
				if err != nil {
					t.Fatal(err)
				}
				mi = strings.NewReader(string(b))
			}
			var got string
			if mi == nil {
				got = ContainerID(nil, tc.hostname)
			} else {
				got = ContainerID(mi, tc.hostname)
			}
			if got != tc.want {
				t.Errorf("ContainerID = %q, want %q", got, tc.want)
			}
		})
	}
}
