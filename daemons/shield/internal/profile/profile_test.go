package profile

import (
	"errors"
	"strings"
	"testing"
)

func TestBundled(t *testing.T) {
	for _, n := range []string{"base", "dev-standard", "dev-python", "dev-node", "nvidia-hpc"} {
		p, err := Store{}.Load(n)
		if err != nil || len(p.Entries) == 0 || p.Source != "bundled" {
			t.Errorf("bundled %s: %+v %v", n, p, err)
		}
	}
}

func TestUserProfiles(t *testing.T) {
	s := Store{Dir: "testdata/profiles"}
	p, err := s.Load("mine")
	if err != nil || len(p.Entries) != 2 || p.Entries[1].String() != "example.org" {
		t.Fatalf("mine: %+v %v", p, err)
	}
	b, err := s.Load("base")
	if err != nil || !b.Shadows || len(b.Entries) != 1 {
		t.Fatalf("user base must shadow the bundled one: %+v %v", b, err)
	}
	_, err = s.Load("broken")
	if !errors.Is(err, ErrBadLine) || !strings.Contains(err.Error(), "testdata/profiles/broken.txt:2") {
		t.Fatalf("broken strict: %v", err)
	}
	s.Lenient = true
	p, err = s.Load("broken")
	if err != nil || len(p.Entries) != 2 || len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "broken.txt:2") {
		t.Fatalf("broken lenient: %+v %v", p, err)
	}
	if _, err := s.Load("nope"); !errors.Is(err, ErrUnknown) {
		t.Fatalf("unknown: %v", err)
	}
	if _, err := s.Load("../etc/passwd"); !errors.Is(err, ErrBadName) {
		t.Fatalf("bad name: %v", err)
	}
	all, err := s.List()
	if err != nil || len(all) != 7 {
		t.Fatalf("list: %d %v", len(all), err)
	}
	s.Lenient = false
	all, err = s.List()
	if err != nil || len(all) != 7 {
		t.Fatalf("strict list: %d %v", len(all), err)
	}
	for _, p := range all {
		if (p.Name == "broken") != (p.Err != nil) {
			t.Errorf("profile %s: err %v", p.Name, p.Err)
		}
	}
}
