package gateapi

import "time"

// Push policies of a repository.
const (
	// PolicyGatekeeping keeps pushes in the gate; an operator promotes a
	// branch to the upstream.
	PolicyGatekeeping = "gatekeeping"
	// PolicyOnline forwards every push that lands to the upstream at once.
	PolicyOnline = "online"
)

// EnsureRepoRequest creates a repository or, when it exists, updates its
// policy and polling. Upstream empty means an empty repository.
type EnsureRepoRequest struct {
	Name          string `json:"name"`
	Upstream      string `json:"upstream,omitempty"`
	DefaultBranch string `json:"default_branch,omitempty"` // empty repos; default "main"
	Policy        string `json:"policy,omitempty"`         // gatekeeping (default) or online
	// PollSeconds: 0 uses the daemon's interval, a negative value turns
	// polling off for this repository.
	PollSeconds int `json:"poll_seconds,omitempty"`
	// SSHKey names a private key file under <state>/gate/ssh/ for ssh
	// upstreams (default id_ed25519, then id_rsa).
	SSHKey string `json:"ssh_key,omitempty"`
}

// Repo is a repository as listed.
type Repo struct {
	Name          string     `json:"name"`
	Upstream      string     `json:"upstream,omitempty"`
	DefaultBranch string     `json:"default_branch"`
	Policy        string     `json:"policy"`
	PollSeconds   int        `json:"poll_seconds,omitempty"`
	SSHKey        string     `json:"ssh_key,omitempty"`
	Created       time.Time  `json:"created"`
	LastSync      *time.Time `json:"last_sync,omitempty"`
	LastSyncError string     `json:"last_sync_error,omitempty"`
	LastForward   *Forward   `json:"last_forward,omitempty"`
}

// EnsureRepoResponse is the answer to EnsureRepoRequest: the repository
// and whether this call created it.
type EnsureRepoResponse struct {
	Repo
	New bool `json:"new"`
}

// Forward is the outcome of forwarding a push to the upstream (online
// policy).
type Forward struct {
	At time.Time `json:"at"`
	// Refs were pushed upstream.
	Refs []string `json:"refs"`
	// Kept were not forwarded: deletions (the gate never deletes a ref
	// upstream) and refs new in the gate that the upstream already has
	// (the gate does not move a ref it has not seen; sync first).
	Kept  []string `json:"kept,omitempty"`
	Error string   `json:"error,omitempty"`
}

// Branch is one branch of a repository with its head commit and, for
// repositories with an upstream, how far it is ahead of and behind the
// upstream's default branch.
type Branch struct {
	Name    string    `json:"name"`
	Head    string    `json:"head"`
	Subject string    `json:"subject,omitempty"`
	Author  string    `json:"author,omitempty"`
	When    time.Time `json:"when"`
	Ahead   *int      `json:"ahead,omitempty"`
	Behind  *int      `json:"behind,omitempty"`
}

// RepoDetail is one repository with its branches.
type RepoDetail struct {
	Repo
	Branches []Branch `json:"branches"`
	// UpstreamHead is the commit of the upstream's default branch as last
	// fetched.
	UpstreamHead string `json:"upstream_head,omitempty"`
}

// Commit is one entry of a branch's log.
type Commit struct {
	Hash    string    `json:"hash"`
	Subject string    `json:"subject"`
	Author  string    `json:"author"`
	Email   string    `json:"email"`
	When    time.Time `json:"when"`
	Parents []string  `json:"parents"`
}

// BranchUpdate is one branch moved by a sync.
type BranchUpdate struct {
	Branch string `json:"branch"`
	Old    string `json:"old,omitempty"`
	New    string `json:"new"`
}

// SyncResult is what a sync from the upstream did.
type SyncResult struct {
	Repo    string         `json:"repo"`
	At      time.Time      `json:"at"`
	Updated []BranchUpdate `json:"updated"`
	Errors  []string       `json:"errors"`
}

// PromoteRequest pushes Branch of the gate repository to Target (default:
// the same name) on the upstream.
type PromoteRequest struct {
	Branch string `json:"branch"`
	Target string `json:"target,omitempty"`
	// Force allows a non-fast-forward update of the upstream branch.
	Force bool `json:"force,omitempty"`
	// Expect is the commit the reviewer saw at the head of Branch (7 to 40
	// hex digits). When Branch has moved since, nothing is pushed and the
	// answer is 409 naming its new head. Empty: whatever Branch holds now.
	Expect string `json:"expect,omitempty"`
}

// PromoteResult says what landed upstream.
type PromoteResult struct {
	Branch string `json:"branch"`
	Target string `json:"target"`
	Commit string `json:"commit"`
	// UpToDate is true when the upstream already had the commit.
	UpToDate bool `json:"up_to_date,omitempty"`
}

// MintRequest asks for a task token.
type MintRequest struct {
	Project string `json:"project"`
	Task    string `json:"task"`
}

// Token is a task token as stored: never with its secret.
type Token struct {
	ID      string    `json:"id"`
	Project string    `json:"project"`
	Task    string    `json:"task"`
	Created time.Time `json:"created"`
}

// MintResponse carries the secret once, at minting.
type MintResponse struct {
	Token
	Secret string `json:"token"`
}

// RevokeResult counts the tokens removed.
type RevokeResult struct {
	Revoked int `json:"revoked"`
}

// Deleted answers a repository deletion.
type Deleted struct {
	Name          string `json:"name"`
	TokensRevoked int    `json:"tokens_revoked"`
}

// Event kinds of the gate's event feed.
const (
	// EventPush is one ref update a push landed.
	EventPush = "push"
)

// Event is one entry of the gate's event feed (GET /v1/events). Seq
// numbers the feed from 1 without gaps and keeps counting across restarts;
// pass the last Seq seen as since to catch up.
type Event struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	Kind string    `json:"kind"` // EventPush
	Repo string    `json:"repo"`
	// Task is the task of the token that pushed; "" for the admin token.
	Task string `json:"task"`
	// Ref is the full ref name, e.g. refs/heads/task/fix-login.
	Ref string `json:"ref"`
	// Old is the commit the ref held before ("" for a ref the push
	// created); New the commit it holds now ("" for a deleted ref).
	Old string `json:"old,omitempty"`
	New string `json:"new,omitempty"`
	// Commits counts the commits the update brought: old..new for a moved
	// ref; for a new ref those not reachable from any branch, tag or
	// upstream branch the repository had before the push (so a task
	// branch made from main counts only the task's commits); 0 for a
	// deletion.
	Commits int `json:"commits"`
}

// MaxPatchBytes is how much unified diff text a Diff carries at most; a
// longer patch is cut at a line end and marked Truncated.
const MaxPatchBytes = 1 << 20

// MaxDiffCommits and MaxDiffFiles bound the commit and file lists of a
// Diff (CommitsTruncated, FilesTruncated tell when they were cut); the
// totals always count every file.
const (
	MaxDiffCommits = 1000
	MaxDiffFiles   = 5000
)

// File change statuses of a Diff.
const (
	FileAdded       = "added"
	FileModified    = "modified"
	FileDeleted     = "deleted"
	FileRenamed     = "renamed"
	FileCopied      = "copied"
	FileTypeChanged = "type_changed"
)

// Diff is what a branch changes against a base branch, from their merge
// base, as `git diff base...head` shows it (renames detected).
type Diff struct {
	Repo string `json:"repo"`
	Base string `json:"base"` // branch name
	Head string `json:"head"` // branch name
	// BaseCommit and HeadCommit are the branches' commits; MergeBase the
	// commit the diff starts from ("" when the histories share none: the
	// diff then starts from an empty tree).
	BaseCommit string `json:"base_commit"`
	HeadCommit string `json:"head_commit"`
	MergeBase  string `json:"merge_base"`
	// Commits are those on head and not on base, newest first.
	Commits          []Commit     `json:"commits"`
	CommitsTruncated bool         `json:"commits_truncated,omitempty"`
	Files            []FileChange `json:"files"`
	FilesTruncated   bool         `json:"files_truncated,omitempty"`
	// Added and Removed count lines over every text file.
	Added   int `json:"added"`
	Removed int `json:"removed"`
	// Patch is the unified diff, at most MaxPatchBytes (Truncated).
	Patch     string `json:"patch"`
	Truncated bool   `json:"truncated,omitempty"`
}

// FileChange is one file of a Diff.
type FileChange struct {
	Path    string `json:"path"`
	OldPath string `json:"old_path,omitempty"` // renamed or copied from
	Status  string `json:"status"`             // FileAdded, FileModified, ...
	Added   int    `json:"added"`
	Removed int    `json:"removed"`
	Binary  bool   `json:"binary,omitempty"`
}
