package podmanapi

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
)

// shells are the paths of which a root filesystem must hold at least one.
var shells = map[string]bool{"bin/sh": true, "usr/bin/sh": true}

// CheckRootfs reads a tarball (plain or gzip) to its end and returns nil
// when it looks like a root filesystem: a tar archive holding bin/sh or
// usr/bin/sh. Anything else gives ErrNotRootfs with the reason and the fix.
func CheckRootfs(r io.Reader) error {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(6)
	var src io.Reader = br
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		gz, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%w: bad gzip data: %v", ErrNotRootfs, err)
		}
		defer gz.Close()
		src = gz
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}),
		bytes.HasPrefix(magic, []byte("BZh")),
		bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return fmt.Errorf("%w: xz, bzip2 and zstd are not read here; decompress it or use a plain or gzip tar", ErrNotRootfs)
	}
	tr := tar.NewReader(src)
	found, entries := false, 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if entries == 0 {
				return fmt.Errorf("%w: not a tar archive (%v); make one with `tar -C ROOTFS -c .`", ErrNotRootfs, err)
			}
			return fmt.Errorf("%w: broken tar archive after %d entries: %v", ErrNotRootfs, entries, err)
		}
		entries++
		name := strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/")
		if shells[name] && (h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeSymlink || h.Typeflag == tar.TypeLink) {
			found = true
		}
	}
	if entries == 0 {
		return fmt.Errorf("%w: the archive is empty", ErrNotRootfs)
	}
	if !found {
		return fmt.Errorf("%w: it has no bin/sh or usr/bin/sh; tar the root directory itself (`tar -C ROOTFS -c .`), not a folder above it", ErrNotRootfs)
	}
	return nil
}
