package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/httpmw"
	"github.com/terok-ai/terok-in-docker/daemons/kit/listenlimit"
	"github.com/terok-ai/terok-in-docker/daemons/kit/serve"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/audit"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/broker"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/config"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/oauth"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/phantoms"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/providers"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/seal"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/secrets"
	"github.com/terok-ai/terok-in-docker/daemons/vault/vaultapi"
)

// Server is one running vault.
type Server struct {
	cfg       config.Config
	log       zerolog.Logger
	key       *seal.Key
	uid       int
	providers *providers.Set
	secrets   *secrets.Store
	phantoms  *phantoms.Store
	audit     *audit.Log
	broker    *broker.Broker
	oauth     *oauth.Manager
	logins    *oauth.Logins
	// KeyNote says where the key is, for health.
	KeyNote string
}

// Dirs are the vault's two directories, opened (as root, before the
// vault dropped it) so that everything is reached through them whatever
// their paths' parents allow.
type Dirs struct {
	// Config holds the generated key and root's providers/.
	Config *os.Root
	// State holds the store, the phantoms and audit/.
	State *os.Root
}

// New opens the vault's state through dirs (its own directories) and loads
// the providers. testCA is the test-only CA (PEM; nil in use). Errors name
// the file and the fix.
func New(cfg config.Config, key *seal.Key, dirs Dirs, testCA []byte, log zerolog.Logger) (*Server, error) {
	s := &Server{cfg: cfg, log: log, key: key, uid: os.Geteuid()}
	var err error
	trusted := func(uid int) bool { return uid == 0 || uid == s.uid }
	if s.providers, err = providers.Load(dirs.Config, "providers", trusted); err != nil {
		return nil, err
	}
	if s.secrets, err = secrets.Open(dirs.State, "secrets.json", key); err != nil {
		return nil, err
	}
	if s.phantoms, err = phantoms.Open(dirs.State, "phantoms.json"); err != nil {
		return nil, err
	}
	pool, err := rootCAs(testCA)
	if err != nil {
		return nil, err
	}
	if err := dirs.State.MkdirAll("audit", 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", filepath.Join(cfg.StateDir, "audit"), err)
	}
	auditDir, err := dirs.State.OpenRoot("audit")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", filepath.Join(cfg.StateDir, "audit"), err)
	}
	if s.audit, err = audit.Open(auditDir, cfg.AuditMaxBytes, log.With().Str("part", "audit").Logger()); err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{Proxy: http.ProxyFromEnvironment,
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true}}
	s.oauth = oauth.NewManager(&oauth.Client{HTTP: hc}, tokenStore{s}, cfg.RefreshBefore.D(), log.With().Str("part", "oauth").Logger())
	s.logins = oauth.NewLogins(s.oauth, log.With().Str("part", "login").Logger())
	s.broker = broker.New(broker.Options{Providers: s.providers, Phantoms: s.phantoms, Credentials: s, Audit: s.audit,
		Log: log.With().Str("part", "broker").Logger(), Limits: cfg.Limits, RootCAs: pool})
	for _, p := range s.secrets.Problems() {
		log.Error().Str("problem", p).Msg("a stored credential cannot be used")
	}
	return s, nil
}

// rootCAs is the system's pool with the test-only CA added.
func rootCAs(testCA []byte) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if testCA == nil {
		return pool, nil
	}
	if !pool.AppendCertsFromPEM(testCA) {
		return nil, fmt.Errorf("%w: the test CA file holds no PEM certificate", config.ErrInvalid)
	}
	return pool, nil
}

// Providers is the set of providers the vault knows.
func (s *Server) Providers() *providers.Set { return s.providers }

// Broker is the credential broker's handler.
func (s *Server) Broker() http.Handler { return s.broker }

// Credential resolves the real credential of p for project: the
// project's own, else the global one; an API key goes in the provider's
// header, an OAuth login's access token (refreshed when due) in its login
// header.
func (s *Server) Credential(ctx context.Context, p *providers.Provider, project string) (providers.Header, string, error) {
	scope := project
	m, ok := s.secrets.Meta(p.Name, project)
	if !ok {
		scope = ""
		m, ok = s.secrets.Meta(p.Name, "")
	}
	if !ok {
		return providers.Header{}, "", fmt.Errorf("%w for provider %s (neither for project %s nor global)", broker.ErrNoCredential, p.Name, project)
	}
	switch m.Kind {
	case secrets.KindOAuth:
		if p.Login == nil {
			return providers.Header{}, "", fmt.Errorf("%w: provider %s no longer declares a login", broker.ErrLoginExpired, p.Name)
		}
		access, err := s.oauth.Access(ctx, p, scope)
		if errors.Is(err, oauth.ErrNoLogin) {
			return providers.Header{}, "", fmt.Errorf("%w: %v", broker.ErrLoginExpired, err)
		}
		if err != nil {
			return providers.Header{}, "", err
		}
		return p.Login.Inject, access, nil
	default:
		v, _, err := s.secrets.Value(p.Name, scope)
		if err != nil {
			return providers.Header{}, "", err
		}
		return p.Inject, string(v), nil
	}
}

// tokenStore keeps OAuth tokens in the secrets store for the refreshers.
type tokenStore struct{ s *Server }

func (t tokenStore) LoadToken(provider, project string) (oauth.Token, error) {
	v, m, err := t.s.secrets.Value(provider, project)
	if err != nil {
		return oauth.Token{}, err
	}
	if m.Kind != secrets.KindOAuth {
		return oauth.Token{}, fmt.Errorf("%w: %s is an API key, not a login", oauth.ErrNoLogin, provider)
	}
	var tok oauth.Token
	if err := json.Unmarshal(v, &tok); err != nil {
		return oauth.Token{}, fmt.Errorf("stored login of %s does not read: %w", provider, err)
	}
	if m.Problem != "" {
		return tok, fmt.Errorf("%w: %s", oauth.ErrNoLogin, m.Problem)
	}
	return tok, nil
}

func (t tokenStore) SaveToken(provider, project string, tok oauth.Token) (vaultapi.Secret, error) {
	v, err := json.Marshal(tok)
	if err != nil {
		return vaultapi.Secret{}, err
	}
	exp := tok.Expiry.UTC().Truncate(time.Second)
	m, err := t.s.secrets.Set(secrets.SetRequest{Provider: provider, Project: project, Kind: secrets.KindOAuth, Value: v,
		FingerprintOf: []byte(tok.RefreshToken), Expires: &exp})
	return wireSecret(m), err
}

func (t tokenStore) MarkProblem(provider, project, problem string) error {
	return t.s.secrets.MarkProblem(provider, project, problem)
}

// Serve answers the broker on brokerLn and the admin API on adminLn until
// ctx ends, pruning old phantoms and audit files meanwhile.
func (s *Server) Serve(ctx context.Context, brokerLn, adminLn net.Listener) error {
	g := serve.NewGroup(ctx, 5*time.Second)
	brokerLog := s.log.With().Str("part", "broker").Logger()
	// Behind kit's middleware the broker still streams: its flushes and
	// the WebSocket hijack pass through (kit/httpmw).
	// Behind the listener limits, which count each request under its
	// phantom (checked from the headers before anything else is read).
	brokerSrv := listenlimit.NewServer(httpmw.Wrap(s.broker, s.log.With().Str("listener", "broker").Logger()), s.cfg.Listener,
		listenlimit.Options{Identify: s.broker.Identify, Log: brokerLog})
	g.Serve("broker", brokerSrv, brokerLn)
	g.Serve("admin socket", unixhttp.NewServer(s.AdminHandler(), s.log, unixhttp.WithPeerCred(),
		unixhttp.WithMiddleware(httpmw.Middleware(s.log.With().Str("listener", "socket").Logger()))), adminLn)
	g.Go(func(ctx context.Context) error { s.prune(ctx); return nil })
	g.Cleanup(func() error {
		s.broker.CloseIdle()
		s.logins.Close()
		s.oauth.Close()
		s.audit.Close()
		return nil
	})
	return g.Wait()
}

// prune forgets revoked phantoms and idle audit files older than Keep,
// at start and every hour.
func (s *Server) prune(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		cutoff := time.Now().Add(-s.cfg.Keep.D())
		if n, err := s.phantoms.Prune(cutoff); err != nil {
			s.log.Error().Err(err).Msg("prune phantoms")
		} else if n > 0 {
			s.log.Info().Int("phantoms", n).Msg("forgot revoked phantoms")
		}
		if n, err := s.audit.Prune(cutoff); err != nil {
			s.log.Error().Err(err).Msg("prune audit")
		} else if n > 0 {
			s.log.Info().Int("files", n).Msg("removed idle audit files")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
