package repos

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/kit/atomicfile"
)

// MetaFile is the settings file inside each bare repository.
const MetaFile = "terok-gate.json"

// settings is a repository's record on disk (MetaFile in its directory).
// It is its own type, not the wire type gateapi.Repo, so the API can
// change without changing what is on disk: these JSON names are the file
// format, and wire() is the one place that maps one to the other.
type settings struct {
	Name          string         `json:"name"`
	Upstream      string         `json:"upstream,omitempty"` // with credentials, never shown
	DefaultBranch string         `json:"default_branch"`
	Policy        string         `json:"policy"`
	PollSeconds   int            `json:"poll_seconds,omitempty"`
	SSHKey        string         `json:"ssh_key,omitempty"`
	Created       time.Time      `json:"created"`
	LastSync      *time.Time     `json:"last_sync,omitempty"`
	LastSyncError string         `json:"last_sync_error,omitempty"`
	LastForward   *forwardRecord `json:"last_forward,omitempty"`
}

// forwardRecord is the outcome of the last push forwarded upstream.
type forwardRecord struct {
	At    time.Time `json:"at"`
	Refs  []string  `json:"refs"`
	Kept  []string  `json:"kept,omitempty"`
	Error string    `json:"error,omitempty"`
}

// wire is the repository as the API shows it: credentials in the
// upstream URL redacted.
func (s settings) wire() gateapi.Repo {
	r := gateapi.Repo{Name: s.Name, Upstream: Redact(s.Upstream), DefaultBranch: s.DefaultBranch, Policy: s.Policy,
		PollSeconds: s.PollSeconds, SSHKey: s.SSHKey, Created: s.Created, LastSyncError: s.LastSyncError}
	if s.LastSync != nil {
		t := *s.LastSync
		r.LastSync = &t
	}
	if s.LastForward != nil {
		r.LastForward = &gateapi.Forward{At: s.LastForward.At, Refs: append([]string{}, s.LastForward.Refs...),
			Kept: slices.Clone(s.LastForward.Kept), Error: s.LastForward.Error}
	}
	return r
}

func readSettings(dir string) (settings, error) {
	b, err := os.ReadFile(filepath.Join(dir, MetaFile))
	if errors.Is(err, os.ErrNotExist) {
		return settings{}, fmt.Errorf("%w: %s", ErrNotFound, strings.TrimSuffix(filepath.Base(dir), ".git"))
	}
	if err != nil {
		return settings{}, fmt.Errorf("read settings: %w", err)
	}
	var s settings
	if err := json.Unmarshal(b, &s); err != nil {
		return settings{}, fmt.Errorf("settings of %s are corrupt: %w", dir, err)
	}
	return s, nil
}

func writeSettings(dir string, s settings) error {
	return atomicfile.WriteJSON(filepath.Join(dir, MetaFile), s, 0o640)
}

// Redact hides credentials in an http(s) upstream URL (the user part may
// itself be a token) for answers and logs.
func Redact(upstream string) string {
	u, err := url.Parse(upstream)
	if err != nil || u.User == nil || (u.Scheme != "http" && u.Scheme != "https") {
		return upstream
	}
	u.User = url.User("redacted")
	return u.String()
}
