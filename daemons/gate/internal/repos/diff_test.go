package repos

import (
	"reflect"
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
)

func TestParseRawNumstat(t *testing.T) {
	raw := strings.Join([]string{
		":100644 000000 587be6b 0000000 D", "b",
		":100644 100644 bdc955b 350ed01 M", "bin",
		":100644 100644 190423f 9e73d26 R099", "a.txt", "c.txt",
		":000000 100644 0000000 3e75765 A", "sp ace",
		":100644 120000 1111111 2222222 T", "link",
		"0\t1\tb", "-\t-\tbin", "1\t0\t", "a.txt", "c.txt", "1\t0\tsp ace", "1\t1\tlink", "",
	}, "\x00")
	got, err := parseRawNumstat([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	want := []gateapi.FileChange{
		{Path: "b", Status: gateapi.FileDeleted, Removed: 1},
		{Path: "bin", Status: gateapi.FileModified, Binary: true},
		{Path: "c.txt", OldPath: "a.txt", Status: gateapi.FileRenamed, Added: 1},
		{Path: "sp ace", Status: gateapi.FileAdded, Added: 1},
		{Path: "link", Status: gateapi.FileTypeChanged, Added: 1, Removed: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	if got, err := parseRawNumstat(nil); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("empty diff: %#v %v", got, err)
	}
	for _, bad := range []string{
		":100644 100644 a b M",                            // path missing
		":100644 100644 a b R100\x00old",                  // rename without its new path
		":100644 100644 a b M\x00p\x00",                   // numstat missing
		":100644 100644 a b M\x00p\x001 1\x00",            // numstat without tabs
		":100644 M\x00p\x001\t1\tp\x00",                   // raw entry too short
		":100644 100644 a b R100\x00o\x00n\x001\t1\t\x00", // numstat rename without paths
	} {
		if _, err := parseRawNumstat([]byte(bad)); err == nil {
			t.Errorf("%q: parsed without error", bad)
		}
	}
}
