package ruleset

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/iprange"
)

// Open opens a lasting nftables netlink connection inside the namespace
// nsFd; the caller keeps it for the container's lifetime and closes it with
// CloseConn. Lasting matters: releasing an nfnetlink socket right after a
// batch that deleted anything makes the kernel wait for an RCU grace period
// (about 10 ms); a socket that stays open lets that cleanup run in the
// background.
func Open(nsFd int) (*nftables.Conn, error) {
	c, err := nftables.New(nftables.WithNetNSFd(nsFd), nftables.AsLasting(), nftables.WithSockOptions(bigBuffers))
	if err != nil {
		return nil, fmt.Errorf("open nftables netlink in namespace: %w", err)
	}
	return c, nil
}

// CloseConn releases a connection from Open.
func CloseConn(c *nftables.Conn) error { return c.CloseLasting() }

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

// Load builds and loads the table in the connection's namespace in one batch,
// replacing any previous shield table there.
func Load(c *nftables.Conn, s Spec) error {
	// A fresh namespace gets a plain create (about 2 ms); replacing an
	// existing table costs a kernel RCU grace period (about 10 ms). The
	// daemon serialises loads, so nothing creates the table in between.
	_, lerr := c.ListTableOfFamily(TableName, nftables.TableFamilyINet)
	fresh := errors.Is(lerr, unix.ENOENT)
	if err := build(c, s, time.Now(), !fresh); err != nil {
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

// Update applies set changes in the connection's namespace in one batch.
func Update(c *nftables.Conn, changes ...SetChange) error {
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

// Present reports whether the shield table exists in the connection's namespace.
func Present(c *nftables.Conn) (bool, error) {
	_, err := c.ListTableOfFamily(TableName, nftables.TableFamilyINet)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	return false, fmt.Errorf("list shield table: %w", err)
}

// Remove deletes the shield table from the connection's namespace (absent is fine).
func Remove(c *nftables.Conn) error {
	t := table()
	c.AddTable(t)
	c.DelTable(t)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("remove shield table: %w", err)
	}
	return nil
}

// UpdateAnswers changes the dns4/dns6 sets in one batch: del are taken out
// (only their addresses count), then add go in with the timeouts of their
// expiries. Taking out and putting back the same address refreshes its
// timeout.
func UpdateAnswers(c *nftables.Conn, del, add []iprange.Range) error {
	now := time.Now()
	d4, d6 := iprange.Split(del)
	a4, a6 := iprange.Split(add)
	n := 0
	for _, x := range []struct {
		name     string
		v6       bool
		del, add []iprange.Range
	}{{DNS4, false, d4, a4}, {DNS6, true, d6, a6}} {
		st := set(x.name, x.v6)
		if len(x.del) > 0 {
			els := make([]nftables.SetElement, 0, len(x.del))
			for _, r := range x.del {
				els = append(els, nftables.SetElement{Key: r.Lo.AsSlice()})
			}
			if err := c.SetDeleteElements(st, els); err != nil {
				return fmt.Errorf("delete from set %s: %w", x.name, err)
			}
			n += len(els)
		}
		if els := AnswerElements(x.add, now); len(els) > 0 {
			if err := addElements(c, st, els); err != nil {
				return err
			}
			n += len(els)
		}
	}
	if n == 0 {
		return nil
	}
	if err := c.Flush(); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("update answer sets: %w", ErrNotArmed)
		}
		return fmt.Errorf("update answer sets: %w", err)
	}
	return nil
}

// ReadAnswers reads the dns4/dns6 sets back with the remaining time of each
// element (used to carry answers over a daemon restart, whose re-arm
// replaces the table).
func ReadAnswers(c *nftables.Conn) ([]iprange.Range, error) {
	now := time.Now()
	var out []iprange.Range
	for _, x := range []struct {
		name string
		v6   bool
	}{{DNS4, false}, {DNS6, true}} {
		els, err := c.GetSetElements(set(x.name, x.v6))
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return nil, fmt.Errorf("list set %s: %w", x.name, err)
		}
		for _, e := range els {
			a, ok := netip.AddrFromSlice(e.Key)
			if !ok || e.Expires <= 0 {
				continue
			}
			out = append(out, iprange.Range{Lo: a, Hi: a, Expires: now.Add(e.Expires)})
		}
	}
	return out, nil
}
