package secrets

import (
	"context"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/vault/vaultapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// Vault is what the service needs of terok-vault (vaultapi.Client).
type Vault interface {
	Providers(ctx context.Context) ([]vaultapi.Provider, error)
	SetSecret(ctx context.Context, provider, project, value string) (vaultapi.Secret, error)
	ListSecrets(ctx context.Context, project string) ([]vaultapi.Secret, error)
	RemoveSecret(ctx context.Context, provider, project string) (vaultapi.Secret, error)
	StartLogin(ctx context.Context, req vaultapi.LoginRequest) (vaultapi.LoginState, error)
	Login(ctx context.Context, id string, wait time.Duration) (vaultapi.LoginState, error)
}

// Projects tells whether a project exists (projects.Service).
type Projects interface {
	Get(name string) (webapi.ProjectInfo, error)
}

// Service sets, lists and removes the vault's secrets.
type Service struct {
	vault    Vault
	projects Projects
}

// New returns the service over the vault's client; a nil vault answers
// every call that terok-web has no vault.
func New(v Vault, p Projects) *Service { return &Service{vault: v, projects: p} }

// errNoVault answers when terok-web was built without a vault client.
var errNoVault = fail.Unavailable("terok-web has no vault: start terok-vault (terok daemons status)")

// maxValue bounds a value (the vault's own limit is lower).
const maxValue = 64 << 10

// Set stores value as provider's credential, for project or (empty)
// globally. The value goes to vault.sock and nowhere else; an error
// never carries it (the vault's messages name only where it is wrong).
func (s *Service) Set(ctx context.Context, provider, project, value string) (vaultapi.Secret, error) {
	if s.vault == nil {
		return vaultapi.Secret{}, errNoVault
	}
	if value == "" {
		return vaultapi.Secret{}, fail.BadRequest("the value is empty: give the key on standard input (terok secret set %s < key.txt) or at the prompt", provider)
	}
	if len(value) > maxValue {
		return vaultapi.Secret{}, fail.BadRequest("the value has %d bytes, more than %d: give the key alone", len(value), maxValue)
	}
	if project != "" {
		if _, err := s.projects.Get(project); err != nil {
			return vaultapi.Secret{}, err
		}
	}
	sec, err := s.vault.SetSecret(ctx, provider, project, value)
	return sec, vaultErr("store the secret", err)
}

// List lists the stored secrets (of project and the global ones, or all
// when project is empty), without values.
func (s *Service) List(ctx context.Context, project string) ([]vaultapi.Secret, error) {
	if s.vault == nil {
		return nil, errNoVault
	}
	out, err := s.vault.ListSecrets(ctx, project)
	if out == nil {
		out = []vaultapi.Secret{}
	}
	return out, vaultErr("list the secrets", err)
}

// Remove deletes provider's credential for project or (empty) the
// global one.
func (s *Service) Remove(ctx context.Context, provider, project string) (vaultapi.Secret, error) {
	if s.vault == nil {
		return vaultapi.Secret{}, errNoVault
	}
	sec, err := s.vault.RemoveSecret(ctx, provider, project)
	return sec, vaultErr("remove the secret", err)
}

// Providers lists the providers the vault knows.
func (s *Service) Providers(ctx context.Context) ([]vaultapi.Provider, error) {
	if s.vault == nil {
		return nil, errNoVault
	}
	out, err := s.vault.Providers(ctx)
	if out == nil {
		out = []vaultapi.Provider{}
	}
	return out, vaultErr("list the providers", err)
}

// vaultErr is the vault's 4xx answer with its kind and message (an
// unknown provider stays not found), or says the vault does not answer.
func vaultErr(what string, err error) error { return fail.Daemon("terok-vault", what, err) }

// maxWait bounds one wait for a login (the vault's own bound).
const maxWait = time.Minute

// StartLogin starts a subscription login the vault runs (the device flow,
// or a pasted refresh token the vault exchanges at once; the token is
// passed on and kept nowhere, like a value).
func (s *Service) StartLogin(ctx context.Context, req vaultapi.LoginRequest) (vaultapi.LoginState, error) {
	if s.vault == nil {
		return vaultapi.LoginState{}, errNoVault
	}
	if req.Project != "" {
		if _, err := s.projects.Get(req.Project); err != nil {
			return vaultapi.LoginState{}, err
		}
	}
	st, err := s.vault.StartLogin(ctx, req)
	return st, vaultErr("start the login", err)
}

// Login returns a login's state, waiting up to wait (at most a minute)
// while it is pending.
func (s *Service) Login(ctx context.Context, id string, wait time.Duration) (vaultapi.LoginState, error) {
	if s.vault == nil {
		return vaultapi.LoginState{}, errNoVault
	}
	st, err := s.vault.Login(ctx, id, min(max(wait, 0), maxWait))
	return st, vaultErr("follow the login", err)
}
