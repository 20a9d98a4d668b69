package oauth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/providers"
	"github.com/terok-ai/terok-in-docker/daemons/vault/vaultapi"
)

// Store keeps OAuth credentials (sealed) for the refreshers.
type Store interface {
	LoadToken(provider, project string) (Token, error)
	SaveToken(provider, project string, t Token) (vaultapi.Secret, error)
	MarkProblem(provider, project, problem string) error
}

// refreshTimeout bounds one refresh. A refresh runs on its own context, so
// an agent that hangs up does not cut a refresh in the middle (after
// which nobody would know whether the old refresh token was used).
const refreshTimeout = 30 * time.Second

// minValid is the least lifetime an access token must have left to be
// handed out without a refresh.
const minValid = 10 * time.Second

// Back-off of the background refresh after a transient failure.
const (
	backoffFirst = 15 * time.Second
	backoffMax   = 10 * time.Minute
)

type scope struct{ provider, project string }

// Manager holds one Refresher per OAuth credential.
type Manager struct {
	client *Client
	store  Store
	before time.Duration
	log    zerolog.Logger

	mu     sync.Mutex
	refs   map[scope]*Refresher
	closed bool
}

// NewManager returns a manager refreshing access tokens before time ahead
// of their expiry.
func NewManager(client *Client, store Store, before time.Duration, log zerolog.Logger) *Manager {
	return &Manager{client: client, store: store, before: before, log: log, refs: map[scope]*Refresher{}}
}

// Access returns a valid access token of provider p's OAuth credential
// stored for project (exactly that scope), refreshing it first when due.
func (m *Manager) Access(ctx context.Context, p *providers.Provider, project string) (string, error) {
	r, err := m.refresher(p, project)
	if err != nil {
		return "", err
	}
	return r.Access(ctx)
}

func (m *Manager) refresher(p *providers.Provider, project string) (*Refresher, error) {
	if p.Login == nil {
		return nil, fmt.Errorf("%w: provider %s declares no login", ErrNoLogin, p.Name)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errors.New("the vault is stopping")
	}
	k := scope{p.Name, project}
	if r, ok := m.refs[k]; ok {
		return r, nil
	}
	tok, err := m.store.LoadToken(p.Name, project)
	if err != nil {
		return nil, err
	}
	r := m.start(p, project, tok)
	m.refs[k] = r
	return r, nil
}

func (m *Manager) start(p *providers.Provider, project string, tok Token) *Refresher {
	r := &Refresher{m: m, p: p, project: project, tok: tok, lead: m.before, stop: make(chan struct{}), done: make(chan struct{}),
		log: m.log.With().Str("provider", p.Name).Str("project", project).Logger()}
	go r.run()
	return r
}

// Install stores a new login's token and makes it the credential's only
// refresher (stopping the one before).
func (m *Manager) Install(p *providers.Provider, project string, tok Token) (vaultapi.Secret, error) {
	m.Forget(p.Name, project)
	sec, err := m.store.SaveToken(p.Name, project, tok)
	if err != nil {
		return vaultapi.Secret{}, err
	}
	// A call of Access between Forget and the save may have started a
	// refresher from the old token: the new one replaces it.
	m.mu.Lock()
	k := scope{p.Name, project}
	interim := m.refs[k]
	delete(m.refs, k)
	if !m.closed {
		m.refs[k] = m.start(p, project, tok)
	}
	m.mu.Unlock()
	if interim != nil {
		interim.halt()
	}
	return sec, nil
}

// Forget stops the refresher of a credential (it was removed or replaced).
func (m *Manager) Forget(provider, project string) {
	m.mu.Lock()
	r := m.refs[scope{provider, project}]
	delete(m.refs, scope{provider, project})
	m.mu.Unlock()
	if r != nil {
		r.halt()
	}
}

// Close stops every refresher.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	refs := m.refs
	m.refs = map[scope]*Refresher{}
	m.mu.Unlock()
	for _, r := range refs {
		r.halt()
	}
}

// Refresher keeps one credential's access token fresh: refreshes run one
// at a time, under its lock.
type Refresher struct {
	m       *Manager
	p       *providers.Provider
	project string
	log     zerolog.Logger

	mu   sync.Mutex
	tok  Token
	dead error // set when the endpoint refused: a new login is needed
	// lead is how long before expiry the next refresh is due: the
	// manager's, or half a token's lifetime when that is shorter (so a
	// short-lived token is not refreshed again at once).
	lead time.Duration

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// Access returns a valid access token, refreshing first when it has less
// than a few seconds left.
func (r *Refresher) Access(ctx context.Context) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dead != nil {
		return "", r.dead
	}
	if time.Until(r.tok.Expiry) > minValid {
		return r.tok.AccessToken, nil
	}
	if err := r.refreshLocked(); err != nil {
		return "", err
	}
	return r.tok.AccessToken, nil
}

// refreshLocked exchanges the refresh token once. On success the new pair
// replaces the old at once (the old refresh token is never sent again) and
// is then saved. A refusal marks the credential dead.
func (r *Refresher) refreshLocked() error {
	ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
	defer cancel()
	nt, err := r.m.client.Refresh(ctx, r.p.Login, r.tok.RefreshToken)
	if err != nil {
		if errors.Is(err, ErrRefused) {
			r.dead = fmt.Errorf("%w: %v", ErrNoLogin, err)
			problem := "the login was refused on refresh; log in again (terok-vault secret login " + r.p.Name + ")"
			if perr := r.m.store.MarkProblem(r.p.Name, r.project, problem); perr != nil {
				r.log.Error().Err(perr).Msg("record the failed login")
			}
			r.log.Error().Err(err).Msg("OAuth refresh refused; the credential needs a new login")
			return r.dead
		}
		r.log.Warn().Err(err).Msg("OAuth refresh failed; will retry")
		return err
	}
	rotated := nt.RefreshToken != r.tok.RefreshToken
	r.tok = nt
	r.lead = min(r.m.before, time.Until(nt.Expiry)/2)
	if _, err := r.m.store.SaveToken(r.p.Name, r.project, nt); err != nil {
		// Kept in memory; the next refresh saves again.
		r.log.Error().Err(err).Msg("save the refreshed OAuth token")
	}
	r.log.Info().Time("expires", nt.Expiry).Bool("rotated", rotated).Msg("OAuth access token refreshed")
	return nil
}

func (r *Refresher) run() {
	defer close(r.done)
	var backoff time.Duration
	for {
		r.mu.Lock()
		dead := r.dead
		wait := time.Until(r.tok.Expiry.Add(-r.lead))
		r.mu.Unlock()
		if dead != nil {
			<-r.stop
			return
		}
		if backoff > 0 {
			wait = backoff
		}
		t := time.NewTimer(max(wait, 0))
		select {
		case <-r.stop:
			t.Stop()
			return
		case <-t.C:
		}
		r.mu.Lock()
		var err error
		if r.dead == nil && time.Until(r.tok.Expiry.Add(-r.lead)) <= 0 {
			err = r.refreshLocked()
		}
		r.mu.Unlock()
		switch {
		case err == nil || errors.Is(err, ErrNoLogin):
			backoff = 0
		case backoff == 0:
			backoff = backoffFirst
		default:
			backoff = min(2*backoff, backoffMax)
		}
	}
}

func (r *Refresher) halt() {
	r.stopOnce.Do(func() { close(r.stop) })
	<-r.done
}
