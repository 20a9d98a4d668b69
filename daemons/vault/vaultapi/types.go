package vaultapi

import (
	"strings"
	"time"
)

// Kinds of stored credential.
const (
	KindAPIKey = "api-key"
	KindOAuth  = "oauth"
)

// Secret is what is shown of a stored credential: never its value.
type Secret struct {
	Provider string `json:"provider"`
	// Project is the scope; empty for the global credential, which a
	// project's own credential overrides.
	Project string    `json:"project,omitempty"`
	Kind    string    `json:"kind"`
	SetAt   time.Time `json:"set_at"`
	// Fingerprint is 8 hex digits of a keyed hash of the value: the same
	// value set twice shows the same fingerprint in this vault.
	Fingerprint string `json:"fingerprint"`
	// Expires is when an OAuth access token runs out (the vault refreshes
	// it before).
	Expires *time.Time `json:"expires,omitempty"`
	// Problem says why the credential cannot be used.
	Problem string `json:"problem,omitempty"`
}

// SetSecretRequest is the body of PUT /v1/secrets/{provider}.
type SetSecretRequest struct {
	Value string `json:"value"`
}

// Removed answers a removal.
type Removed struct {
	Removed Secret `json:"removed"`
}

// EnvHint is a variable an agent reads, with {broker} and {phantom} in
// its value standing for the broker's URL and the task's phantom.
type EnvHint struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Login is a provider's OAuth login.
type Login struct {
	Flows     []string `json:"flows"`
	TokenURL  string   `json:"token_url"`
	DeviceURL string   `json:"device_url,omitempty"`
	Inject    string   `json:"inject"`
}

// Provider is one provider the vault knows.
type Provider struct {
	Name string `json:"name"`
	// Source is "shipped" or the path of root's provider file.
	Source   string `json:"source"`
	About    string `json:"about,omitempty"`
	Upstream string `json:"upstream"`
	// Inject is the header the real credential goes in, e.g.
	// "X-Api-Key" or "Authorization Bearer".
	Inject string `json:"inject"`
	// Accept lists where the agent's phantom may arrive ("X-Api-Key",
	// "Authorization Bearer", "query key").
	Accept []string `json:"accept"`
	// PhantomFormat is the key template phantoms are minted from.
	PhantomFormat string `json:"phantom_format"`
	// Routes are "METHODS /path/pattern".
	Routes []string  `json:"routes"`
	Env    []EnvHint `json:"env,omitempty"`
	Login  *Login    `json:"login,omitempty"`
}

// MintRequest asks for one phantom per provider for a task.
type MintRequest struct {
	Project   string   `json:"project"`
	Task      string   `json:"task"`
	Providers []string `json:"providers"`
}

// Phantom is one phantom token's record. Token is set only in the answer
// to a mint.
type Phantom struct {
	ID       string `json:"id"`
	Project  string `json:"project"`
	Task     string `json:"task"`
	Provider string `json:"provider"`
	// Upstream is where the broker sends this phantom's requests.
	Upstream string     `json:"upstream"`
	Routes   []string   `json:"routes"`
	Created  time.Time  `json:"created"`
	Revoked  *time.Time `json:"revoked,omitempty"`
	Token    string     `json:"token,omitempty"`
	// PathPrefix is the provider's path on the broker ("/anthropic"): the
	// agent's base URL is the broker's URL followed by it.
	PathPrefix string    `json:"path_prefix"`
	Env        []EnvHint `json:"env,omitempty"`
}

// Environment returns the variables the provider suggests for an agent,
// with {broker} replaced by brokerURL (the broker as the task reaches it,
// e.g. http://host.containers.internal:9419) and {phantom} by the token.
func (p Phantom) Environment(brokerURL string) map[string]string {
	r := strings.NewReplacer("{broker}", strings.TrimRight(brokerURL, "/"), "{phantom}", p.Token)
	out := make(map[string]string, len(p.Env))
	for _, e := range p.Env {
		out[e.Name] = r.Replace(e.Value)
	}
	return out
}

// MintResponse answers a MintRequest.
type MintResponse struct {
	Phantoms []Phantom `json:"phantoms"`
}

// RevokeResponse tells how many phantoms a revoke ended.
type RevokeResponse struct {
	Revoked int `json:"revoked"`
}

// AuditEntry is one request the broker handled for a task. It never
// holds a header value, a query string or a body.
type AuditEntry struct {
	Time     time.Time `json:"time"`
	Provider string    `json:"provider"`
	Phantom  string    `json:"phantom,omitempty"`
	Method   string    `json:"method"`
	Path     string    `json:"path"`
	Status   int       `json:"status"`
	BytesIn  int64     `json:"bytes_in"`
	BytesOut int64     `json:"bytes_out"`
	Millis   int64     `json:"ms"`
	// Refused says why the broker answered itself instead of forwarding.
	Refused string `json:"refused,omitempty"`
}

// AuditCounts sums a task's requests.
type AuditCounts struct {
	Requests int64 `json:"requests"`
	// Forwarded reached the upstream (whatever it answered).
	Forwarded int64 `json:"forwarded"`
	// Refused were answered by the broker (401, 403, ...).
	Refused  int64            `json:"refused"`
	BytesIn  int64            `json:"bytes_in"`
	BytesOut int64            `json:"bytes_out"`
	ByStatus map[string]int64 `json:"by_status"`
	// ByProvider counts requests per provider.
	ByProvider map[string]int64 `json:"by_provider"`
	First      *time.Time       `json:"first,omitempty"`
	Last       *time.Time       `json:"last,omitempty"`
	// Unrecorded requests are counted but have no entry (the task's file
	// was full, or the writer fell behind).
	Unrecorded int64 `json:"unrecorded,omitempty"`
}

// AuditReport is a task's counts and latest entries.
type AuditReport struct {
	Project string       `json:"project"`
	Task    string       `json:"task"`
	Counts  AuditCounts  `json:"counts"`
	Entries []AuditEntry `json:"entries"`
}

// Login flows.
const (
	FlowDevice       = "device"
	FlowRefreshToken = "refresh-token"
)

// LoginRequest starts an OAuth login run by the vault.
type LoginRequest struct {
	Provider string `json:"provider"`
	Project  string `json:"project,omitempty"`
	Flow     string `json:"flow"`
	// RefreshToken is the pasted token of the refresh-token flow.
	RefreshToken string `json:"refresh_token,omitempty"`
}

// Login states.
const (
	LoginPending = "pending"
	LoginDone    = "done"
	LoginFailed  = "failed"
)

// LoginState is where a login stands.
type LoginState struct {
	ID       string `json:"id"`
	Provider string `json:"provider"`
	Project  string `json:"project,omitempty"`
	Flow     string `json:"flow"`
	State    string `json:"state"`
	// UserCode and VerificationURI are what the user types and where
	// (device flow, while pending).
	UserCode                string    `json:"user_code,omitempty"`
	VerificationURI         string    `json:"verification_uri,omitempty"`
	VerificationURIComplete string    `json:"verification_uri_complete,omitempty"`
	Expires                 time.Time `json:"expires"`
	Error                   string    `json:"error,omitempty"`
	// Secret is the stored credential once done.
	Secret *Secret `json:"secret,omitempty"`
}
