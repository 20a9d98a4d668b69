package smarthttp

import (
	"encoding/hex"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/repos"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/tokens"
)

// PushTicket is one push's passage through the push policy.
type PushTicket interface {
	// Check decides the updates git is about to make (from its
	// pre-receive hook) and returns the reasons to refuse; none lets the
	// push go ahead.
	Check(ups []repos.RefUpdate) []string
	// Finish runs once git is done, whatever happened, and returns the
	// updates that landed.
	Finish() []repos.RefUpdate
}

// PushGuard starts the policy's view of one push by who into project.
type PushGuard func(project string, who tokens.Identity) PushTicket

// beginPush hands run's pre-receive decision to the guard. Without a
// guard every push is refused.
func (h *Handler) beginPush(project string, who tokens.Identity, run *Run) PushTicket {
	if h.Guard == nil {
		return nil
	}
	t := h.Guard(project, who)
	run.PreReceive = func(lines []string) ([]string, bool) {
		ups := make([]repos.RefUpdate, 0, len(lines))
		for _, l := range lines {
			u, ok := parseHookLine(l)
			if !ok {
				return []string{"terok-gate: git handed the policy a line it cannot read; push refused"}, false
			}
			ups = append(ups, u)
		}
		msgs := t.Check(ups)
		return msgs, len(msgs) == 0
	}
	return t
}

// finishPush ends the push's ticket and reports what landed.
func (h *Handler) finishPush(project string, who tokens.Identity, t PushTicket) {
	if t == nil {
		return
	}
	landed := t.Finish()
	if len(landed) > 0 && h.AfterPush != nil {
		h.AfterPush(project, who, landed)
	}
}

// parseHookLine reads "<old> <new> <ref>" as git gives it to pre-receive.
func parseHookLine(l string) (repos.RefUpdate, bool) {
	f := strings.Split(l, " ")
	if len(f) != 3 || !isHash(f[0]) || !isHash(f[1]) || !strings.HasPrefix(f[2], "refs/") {
		return repos.RefUpdate{}, false
	}
	return repos.RefUpdate{Ref: f[2], Old: plumbing.NewHash(f[0]), New: plumbing.NewHash(f[1])}, true
}

func isHash(s string) bool {
	if len(s) != 40 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
