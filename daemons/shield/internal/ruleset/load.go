package ruleset

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/iprange"
)

// Conn opens an nftables netlink connection inside the namespace nsFd.
func Conn(nsFd int) (*nftables.Conn, error) {
	c, err := nftables.New(nftables.WithNetNSFd(nsFd), nftables.WithSockOptions(bigBuffers))
	if err != nil {
		return nil, fmt.Errorf("open nftables netlink in namespace: %w", err)
	}
	return c, nil
}

// bigBuffers lets one batch carry a 10,000-entry allowlist: the whole
// batch goes out in one sendmsg, which must fit the send buffer. As root the
// limit is forced past net.core.wmem_max.
func bigBuffers(c *netlink.Conn) error {
	const size = 32 << 20
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, size)
		if serr == nil {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size)
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return c.SetWriteBuffer(size)
	}
	return nil
}

// Load builds and loads the table in namespace nsFd in one batch,
// replacing any previous shield table there.
func Load(nsFd int, s Spec) error {
	c, err := Conn(nsFd)
	if err != nil {
		return err
	}
	if err := Build(c, s, time.Now()); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("load shield table: %w", err)
	}
	return nil
}

// SetChange is one set's old and new contents.
type SetChange struct {
	Name     string
	Old, New []iprange.Range
}

// Update applies set changes in namespace nsFd in one batch.
func Update(nsFd int, changes ...SetChange) error {
	c, err := Conn(nsFd)
	if err != nil {
		return err
	}
	now := time.Now()
	n := 0
	for _, ch := range changes {
		del, add := iprange.Diff(ch.Old, ch.New)
		n += len(del) + len(add)
		if err := UpdateSet(c, ch.Name, ch.Old, ch.New, now); err != nil {
			return err
		}
	}
	if n == 0 {
		return nil
	}
	if err := c.Flush(); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("update shield sets: %w", ErrNotArmed)
		}
		return fmt.Errorf("update shield sets: %w", err)
	}
	return nil
}

// Present reports whether the shield table exists in namespace nsFd.
func Present(nsFd int) (bool, error) {
	c, err := Conn(nsFd)
	if err != nil {
		return false, err
	}
	_, err = c.ListTableOfFamily(TableName, nftables.TableFamilyINet)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	return false, fmt.Errorf("list shield table: %w", err)
}

// Remove deletes the shield table from namespace nsFd (absent is fine).
func Remove(nsFd int) error {
	c, err := Conn(nsFd)
	if err != nil {
		return err
	}
	t := table()
	c.AddTable(t)
	c.DelTable(t)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("remove shield table: %w", err)
	}
	return nil
}
