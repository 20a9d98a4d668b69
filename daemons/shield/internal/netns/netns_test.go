package netns

import (
	"errors"
	"os"
	"testing"
)

func TestOpen(t *testing.T) {
	self, err := SelfInode()
	if err != nil {
		t.Fatal(err)
	}
	ns, err := Open(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if ns.Inode != self {
		t.Fatalf("own namespace inode %d, want %d", ns.Inode, self)
	}
	uid, err := ns.OwnerUID()
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 && uid != 0 {
		t.Fatalf("initial namespace owned by uid %d", uid)
	}
	for _, pid := range []int{0, -1, 1 << 30} {
		if _, err := Open(pid); !errors.Is(err, ErrGone) {
			t.Errorf("Open(%d): %v, want ErrGone", pid, err)
		}
	}
}
