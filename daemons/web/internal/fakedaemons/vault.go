package fakedaemons

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/health"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/vault/vaultapi"
)

// Vault is terok-vault: the providers anthropic and openai, secrets kept
// in memory (Values, for tests that check where a value went), phantoms
// minted per task and revoked.
type Vault struct {
	Errs
	mu sync.Mutex
	// Values are the stored values by "provider/project".
	Values  map[string]string
	secrets map[string]vaultapi.Secret
	// Minted and Revoked list "project/task" per mint and revoke.
	Minted  []string
	Revoked []string
}

var vaultProviders = map[string]string{"anthropic": "https://api.anthropic.com", "openai": "https://api.openai.com"}

func (v *Vault) Providers(ctx context.Context) ([]vaultapi.Provider, error) {
	if err := v.of("Providers"); err != nil {
		return nil, err
	}
	return []vaultapi.Provider{{Name: "anthropic", Source: "shipped", Upstream: vaultProviders["anthropic"]},
		{Name: "openai", Source: "shipped", Upstream: vaultProviders["openai"]}}, nil
}

func (v *Vault) SetSecret(ctx context.Context, provider, project, value string) (vaultapi.Secret, error) {
	if err := v.of("SetSecret"); err != nil {
		return vaultapi.Secret{}, err
	}
	if _, ok := vaultProviders[provider]; !ok {
		return vaultapi.Secret{}, &unixhttp.APIError{Status: 404, Message: fmt.Sprintf("no provider %q: terok-vault providers list shows them", provider)}
	}
	if value == "" {
		return vaultapi.Secret{}, &unixhttp.APIError{Status: 400, Message: "unusable value: the value is empty"}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.Values == nil {
		v.Values, v.secrets = map[string]string{}, map[string]vaultapi.Secret{}
	}
	sum := sha256.Sum256([]byte("fp" + value))
	s := vaultapi.Secret{Provider: provider, Project: project, Kind: vaultapi.KindAPIKey, SetAt: time.Now().UTC(), Fingerprint: hex.EncodeToString(sum[:4])}
	v.Values[provider+"/"+project], v.secrets[provider+"/"+project] = value, s
	return s, nil
}

func (v *Vault) ListSecrets(ctx context.Context, project string) ([]vaultapi.Secret, error) {
	if err := v.of("ListSecrets"); err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []vaultapi.Secret
	for _, s := range v.secrets {
		if project == "" || s.Project == "" || s.Project == project {
			out = append(out, s)
		}
	}
	return out, nil
}

func (v *Vault) RemoveSecret(ctx context.Context, provider, project string) (vaultapi.Secret, error) {
	if err := v.of("RemoveSecret"); err != nil {
		return vaultapi.Secret{}, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	s, ok := v.secrets[provider+"/"+project]
	if !ok {
		return vaultapi.Secret{}, &unixhttp.APIError{Status: 404, Message: "no credential stored for " + provider}
	}
	delete(v.secrets, provider+"/"+project)
	delete(v.Values, provider+"/"+project)
	return s, nil
}

func (v *Vault) MintPhantoms(ctx context.Context, project, task string, providers []string) ([]vaultapi.Phantom, error) {
	if err := v.of("MintPhantoms"); err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []vaultapi.Phantom
	for _, p := range providers {
		up, ok := vaultProviders[p]
		if !ok {
			return nil, &unixhttp.APIError{Status: 404, Message: fmt.Sprintf("no provider %q", p)}
		}
		out = append(out, vaultapi.Phantom{ID: "ph-" + task + "-" + p, Project: project, Task: task, Provider: p, Upstream: up,
			PathPrefix: "/" + p, Token: "phantom-" + task + "-" + p,
			Env: []vaultapi.EnvHint{{Name: "BASE_URL_" + p, Value: "{broker}/" + p}, {Name: "KEY_" + p, Value: "{phantom}"}}})
	}
	v.Minted = append(v.Minted, project+"/"+task)
	return out, nil
}

func (v *Vault) RevokeTask(ctx context.Context, project, task string) (int, error) {
	if err := v.of("RevokeTask"); err != nil {
		return 0, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.Revoked = append(v.Revoked, project+"/"+task)
	return 1, nil
}

func (v *Vault) Phantoms(ctx context.Context, project, task string) ([]vaultapi.Phantom, error) {
	if err := v.of("Phantoms"); err != nil {
		return nil, err
	}
	return nil, nil
}

func (v *Vault) Audit(ctx context.Context, project, task string, limit int) (vaultapi.AuditReport, error) {
	if err := v.of("Audit"); err != nil {
		return vaultapi.AuditReport{}, err
	}
	return vaultapi.AuditReport{Project: project, Task: task, Entries: []vaultapi.AuditEntry{}}, nil
}

// StartLogin starts a device login (pending, done at the first Login)
// or takes a pasted refresh token at once (kept in Values as
// "login/provider/project").
func (v *Vault) StartLogin(ctx context.Context, req vaultapi.LoginRequest) (vaultapi.LoginState, error) {
	if err := v.of("StartLogin"); err != nil {
		return vaultapi.LoginState{}, err
	}
	if _, ok := vaultProviders[req.Provider]; !ok {
		return vaultapi.LoginState{}, &unixhttp.APIError{Status: 404, Message: fmt.Sprintf("no provider %q", req.Provider)}
	}
	st := vaultapi.LoginState{ID: "login-1", Provider: req.Provider, Project: req.Project, Flow: req.Flow, Expires: time.Now().Add(10 * time.Minute)}
	switch req.Flow {
	case vaultapi.FlowDevice:
		st.State, st.UserCode, st.VerificationURI = vaultapi.LoginPending, "ABCD-EFGH", "https://auth.example.org/device"
	case vaultapi.FlowRefreshToken:
		if req.RefreshToken == "" {
			return vaultapi.LoginState{}, &unixhttp.APIError{Status: 400, Message: "the refresh token is empty"}
		}
		v.mu.Lock()
		if v.Values == nil {
			v.Values, v.secrets = map[string]string{}, map[string]vaultapi.Secret{}
		}
		v.Values["login/"+req.Provider+"/"+req.Project] = req.RefreshToken
		v.mu.Unlock()
		st.State, st.Secret = vaultapi.LoginDone, &vaultapi.Secret{Provider: req.Provider, Project: req.Project, Kind: vaultapi.KindOAuth, Fingerprint: "0a0b0c0d"}
	default:
		return vaultapi.LoginState{}, &unixhttp.APIError{Status: 400, Message: "flow " + req.Flow + ": device or refresh-token"}
	}
	return st, nil
}

// Login answers the device login done.
func (v *Vault) Login(ctx context.Context, id string, wait time.Duration) (vaultapi.LoginState, error) {
	if err := v.of("Login"); err != nil {
		return vaultapi.LoginState{}, err
	}
	if id != "login-1" {
		return vaultapi.LoginState{}, &unixhttp.APIError{Status: 404, Message: "no login " + id}
	}
	return vaultapi.LoginState{ID: id, Provider: "anthropic", Flow: vaultapi.FlowDevice, State: vaultapi.LoginDone,
		Secret: &vaultapi.Secret{Provider: "anthropic", Kind: vaultapi.KindOAuth, Fingerprint: "0a0b0c0d"}}, nil
}

func (v *Vault) Health(ctx context.Context) (health.Status, error) {
	if err := v.of("Health"); err != nil {
		return health.Status{}, err
	}
	return health.Status{Name: "terok-vault", Status: "ok"}, nil
}

// Value returns the value stored for provider and project.
func (v *Vault) Value(provider, project string) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.Values[provider+"/"+project]
}

// Spec returns the spec container id was created with (the zero spec
// for an unknown id): what a task was given, e.g. the vault's variables.
func (p *Podman) Spec(id string) podmanapi.CreateSpec {
	c, err := p.get(id)
	if err != nil {
		return podmanapi.CreateSpec{}
	}
	return c.spec
}
