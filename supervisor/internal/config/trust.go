package config

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// A root supervisor runs what its configuration says as root: a program
// without user=, a command line, a user= value. So when it runs as root
// (and only then: a supervisor of another user cannot raise anyone above
// that user), no account it hands work or its socket to may be able to
// change any file of the configuration, the executables of the programs it
// runs as root, or a directory on their paths. Those accounts are the
// users named by user= (but root), their groups, and the group of the
// control socket (chown=). checkTrust enforces it, naming the file and the
// fix; a file on a read-only mount counts as unchangeable (a file mounted
// into the image with :ro, whatever its owner on the host).

// principals are the accounts a root supervisor does not trust with its
// configuration.
type principals struct {
	uids map[uint32]string // uid → the user= that named it
	gids map[uint32]string // gid → whose group it is
}

func (p *principals) empty() bool { return len(p.uids) == 0 && len(p.gids) == 0 }

// principalsOf collects the unprivileged accounts c hands work to.
func principalsOf(c *Config) *principals {
	p := &principals{uids: map[uint32]string{}, gids: map[uint32]string{}}
	for _, g := range c.Groups {
		for _, proc := range g.Processes {
			if proc.User == "" {
				continue
			}
			id, err := LookupUser(proc.User)
			if err != nil || id.UID == 0 {
				continue
			}
			who := fmt.Sprintf("the user %s (user= of [program:%s])", id.Name, proc.Program)
			if _, ok := p.uids[id.UID]; !ok {
				p.uids[id.UID] = who
			}
			for _, gid := range append([]uint32{id.GID}, id.Groups...) {
				if _, ok := p.gids[gid]; !ok && gid != 0 {
					p.gids[gid] = fmt.Sprintf("the group %s of %s", groupName(gid), who)
				}
			}
		}
	}
	if c.UnixHTTP != nil && c.UnixHTTP.Chown != "" {
		if _, gid, err := LookupOwner(c.UnixHTTP.Chown); err == nil && gid != 0 {
			if _, ok := p.gids[uint32(gid)]; !ok {
				p.gids[uint32(gid)] = fmt.Sprintf("the group %s of the control socket ([unix_http_server] chown=%s)", groupName(uint32(gid)), c.UnixHTTP.Chown)
			}
		}
	}
	return p
}

func groupName(gid uint32) string {
	if g, err := user.LookupGroupId(strconv.Itoa(int(gid))); err == nil {
		return g.Name
	}
	return strconv.Itoa(int(gid))
}

// checkTrust refuses a configuration that an account it hands work to
// could change (see above). It does nothing unless the process is root.
func checkTrust(c *Config) error {
	if os.Geteuid() != 0 {
		return nil
	}
	p := principalsOf(c)
	if p.empty() {
		return nil
	}
	for _, f := range c.Included {
		if err := p.checkPath(f, "configuration file", 0); err != nil {
			return err
		}
	}
	for _, g := range c.Groups {
		for _, proc := range g.Processes {
			if proc.User != "" {
				if id, err := LookupUser(proc.User); err == nil && id.UID != 0 {
					continue
				}
			}
			words, err := SplitCommand(proc.Command)
			if err != nil || len(words) == 0 {
				continue
			}
			exe, err := exec.LookPath(words[0])
			if err != nil {
				continue // reported at spawn, as before
			}
			if abs, err := filepath.Abs(exe); err == nil {
				exe = abs
			}
			if err := p.checkPath(exe, fmt.Sprintf("executable of [program:%s], which runs as root,", proc.Program), 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkPath checks path and every directory above it (following symlinks,
// each of which is checked too). what names the file in the message.
func (p *principals) checkPath(path, what string, depth int) error {
	if depth > 16 {
		return fmt.Errorf("%w: %s %s: too many symlinks", ErrInvalid, what, path)
	}
	path = filepath.Clean(path)
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	cur := "/"
	if err := p.checkDir(cur, path, what); err != nil {
		return err
	}
	for i, name := range parts {
		if name == "" {
			continue
		}
		next := filepath.Join(cur, name)
		fi, err := os.Lstat(next)
		if err != nil {
			return fmt.Errorf("%w: %s %s: %v", ErrInvalid, what, path, err)
		}
		if err := p.checkOwner(next, fi, path, what); err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(next)
			if err != nil {
				return fmt.Errorf("%w: %s %s: %v", ErrInvalid, what, path, err)
			}
			if !filepath.IsAbs(target) {
				target = filepath.Join(cur, target)
			}
			return p.checkPath(filepath.Join(append([]string{target}, parts[i+1:]...)...), what+" (through the symlink "+next+")", depth+1)
		}
		last := i == len(parts)-1
		if last {
			return p.checkFile(next, fi, what)
		}
		if err := p.checkDir(next, path, what); err != nil {
			return err
		}
		cur = next
	}
	return nil
}

// readOnly reports whether path lies on a read-only mount.
func readOnly(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Flags&unix.ST_RDONLY != 0
}

// fix is the advice every refusal ends with.
const trustFix = "a root supervisor runs what its configuration says as root; make it root's and not writable by others (chown root:root, chmod go-w), or mount it read-only"

// checkOwner refuses an entry an untrusted account owns: its owner can
// change its mode and so its content (a symlink: where it points).
func (p *principals) checkOwner(entry string, fi os.FileInfo, path, what string) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if who, bad := p.uids[st.Uid]; bad && !readOnly(entry) {
		return fmt.Errorf("%w: %s %s: %s belongs to %s, who could change it; %s", ErrInvalid, what, path, entryName(entry, path), who, trustFix)
	}
	return nil
}

// checkFile refuses a file an untrusted account can write.
func (p *principals) checkFile(file string, fi os.FileInfo, what string) error {
	if by := p.writableBy(fi); by != "" && !readOnly(file) {
		return fmt.Errorf("%w: %s %s is writable by %s; %s", ErrInvalid, what, file, by, trustFix)
	}
	return nil
}

// checkDir refuses a directory in which an untrusted account could
// replace entries: writable by it and without the sticky bit (with the
// sticky bit only an entry's owner may replace it, which checkOwner
// covers).
func (p *principals) checkDir(dir, path, what string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%w: %s %s: %v", ErrInvalid, what, path, err)
	}
	if fi.Mode()&os.ModeSticky != 0 {
		return nil
	}
	if by := p.writableBy(fi); by != "" && !readOnly(dir) {
		return fmt.Errorf("%w: %s %s: the directory %s is writable by %s, who could replace what is in it; %s", ErrInvalid, what, path, dir, by, trustFix)
	}
	return nil
}

// writableBy names who among p can write fi ("" when none): others when
// it is world-writable, an untrusted group with group write.
func (p *principals) writableBy(fi os.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	perm := fi.Mode().Perm()
	if perm&0o002 != 0 {
		var all []string
		for _, w := range p.uids {
			all = append(all, w)
		}
		sort.Strings(all)
		if len(all) > 0 {
			return "everyone, " + all[0] + " included"
		}
		return "everyone"
	}
	if who, bad := p.gids[st.Gid]; bad && perm&0o020 != 0 {
		return who
	}
	return ""
}

// entryName is "it" when entry is the file itself, else the directory or
// link on its way.
func entryName(entry, path string) string {
	if entry == path {
		return "it"
	}
	return entry
}
