package testkit

import (
	"net"
	"strconv"
	"testing"
)

// FreeBlock returns the first of n consecutive TCP ports in 23100–23900
// that no address of this host holds a moment ago (the search is
// bounded), for code that takes a range of ports and must not meet a
// range in real use (terok's 7860–7880). Never put it in expected output.
func FreeBlock(t testing.TB, n int) int {
	t.Helper()
	for base := 23100; base+n <= 23900; base += n {
		free := true
		for p := base; p < base+n && free; p++ {
			ln, err := net.Listen("tcp", ":"+strconv.Itoa(p))
			if err == nil {
				ln.Close()
			}
			free = err == nil
		}
		if free {
			return base
		}
	}
	t.Fatalf("no block of %d free ports in 23100-23900", n)
	return 0
}
