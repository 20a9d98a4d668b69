package oauth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/providers"
	"github.com/terok-ai/terok-in-docker/daemons/vault/vaultapi"
)

// ErrUnknownLogin marks a login id the vault does not know (or forgot).
var ErrUnknownLogin = errors.New("no such login")

// ErrTooMany marks a start while too many logins are pending.
var ErrTooMany = errors.New("too many logins pending")

// maxPending bounds the device flows waiting at once.
const maxPending = 8

// forgetAfter is how long a finished login's state stays readable.
const forgetAfter = 10 * time.Minute

// Logins runs the logins the CLI starts.
type Logins struct {
	m   *Manager
	log zerolog.Logger

	mu       sync.Mutex
	sessions map[string]*session
	wg       sync.WaitGroup
	stop     chan struct{}
}

type session struct {
	state   vaultapi.LoginState
	changed chan struct{} // closed and replaced at every change
	ended   time.Time
}

// NewLogins returns the login runner of m.
func NewLogins(m *Manager, log zerolog.Logger) *Logins {
	return &Logins{m: m, log: log, sessions: map[string]*session{}, stop: make(chan struct{})}
}

// Start begins a login of provider p for project with flow. The
// refresh-token flow is exchanged at once and answers done or failed; the
// device flow answers pending with the code to show, and the vault polls.
func (l *Logins) Start(ctx context.Context, p *providers.Provider, project, flow, refreshToken string) (vaultapi.LoginState, error) {
	if !p.Login.Has(flow) {
		flows := "none"
		if p.Login != nil {
			flows = fmt.Sprint(p.Login.Flows)
		}
		return vaultapi.LoginState{}, fmt.Errorf("%w: provider %s has no %q login (its flows: %s); use an API key with terok-vault secret set %s", ErrNoLogin, p.Name, flow, flows, p.Name)
	}
	st := vaultapi.LoginState{ID: newID(), Provider: p.Name, Project: project, Flow: flow, State: vaultapi.LoginPending}
	switch flow {
	case providers.FlowRefreshToken:
		if refreshToken == "" {
			return vaultapi.LoginState{}, fmt.Errorf("%w: the refresh-token flow needs the token", ErrRefused)
		}
		st.Expires = time.Now().UTC()
		tok, err := l.m.client.Refresh(ctx, p.Login, refreshToken)
		if err == nil {
			var sec vaultapi.Secret
			sec, err = l.m.Install(p, project, tok)
			st.Secret = &sec
		}
		if err != nil {
			st.State, st.Error, st.Secret = vaultapi.LoginFailed, err.Error(), nil
			return st, nil
		}
		st.State = vaultapi.LoginDone
		return st, nil
	}
	l.mu.Lock()
	pending := 0
	for _, s := range l.sessions {
		if s.state.State == vaultapi.LoginPending {
			pending++
		}
	}
	l.mu.Unlock()
	if pending >= maxPending {
		return vaultapi.LoginState{}, fmt.Errorf("%w (%d); finish or let one expire first", ErrTooMany, pending)
	}
	d, err := l.m.client.DeviceStart(ctx, p.Login)
	if err != nil {
		return vaultapi.LoginState{}, err
	}
	st.UserCode, st.VerificationURI, st.VerificationURIComplete = d.UserCode, d.VerificationURI, d.VerificationURIComplete
	st.Expires = time.Now().UTC().Add(time.Duration(d.ExpiresIn) * time.Second).Truncate(time.Second)
	s := &session{state: st, changed: make(chan struct{})}
	l.mu.Lock()
	l.sessions[st.ID] = s
	l.mu.Unlock()
	l.wg.Add(1)
	go l.poll(s, p, d)
	return st, nil
}

func (l *Logins) poll(s *session, p *providers.Provider, d DeviceAuth) {
	defer l.wg.Done()
	interval := time.Duration(d.Interval) * time.Second
	deadline := s.state.Expires
	finish := func(state, msg string, sec *vaultapi.Secret) {
		l.mu.Lock()
		s.state.State, s.state.Error, s.state.Secret = state, msg, sec
		s.state.UserCode, s.ended = "", time.Now()
		close(s.changed)
		s.changed = make(chan struct{})
		l.mu.Unlock()
	}
	for time.Now().Before(deadline) {
		select {
		case <-l.stop:
			finish(vaultapi.LoginFailed, "the vault stopped", nil)
			return
		case <-time.After(interval):
		}
		ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
		tok, err := l.m.client.DevicePoll(ctx, p.Login, d.DeviceCode)
		cancel()
		switch {
		case errors.Is(err, ErrPending), errors.Is(err, ErrTransient):
			continue
		case errors.Is(err, ErrSlowDown):
			interval += 5 * time.Second
			continue
		case err != nil:
			finish(vaultapi.LoginFailed, err.Error(), nil)
			return
		}
		sec, err := l.m.Install(p, s.state.Project, tok)
		if err != nil {
			finish(vaultapi.LoginFailed, err.Error(), nil)
			return
		}
		l.log.Info().Str("provider", p.Name).Str("project", s.state.Project).Msg("device login done")
		finish(vaultapi.LoginDone, "", &sec)
		return
	}
	finish(vaultapi.LoginFailed, "the code expired before the login was finished; start again", nil)
}

// Get returns a login's state, waiting up to wait while it is pending.
func (l *Logins) Get(ctx context.Context, id string, wait time.Duration) (vaultapi.LoginState, error) {
	l.mu.Lock()
	l.forgetOld()
	s, ok := l.sessions[id]
	if !ok {
		l.mu.Unlock()
		return vaultapi.LoginState{}, fmt.Errorf("%w: %s", ErrUnknownLogin, id)
	}
	st, ch := s.state, s.changed
	l.mu.Unlock()
	if st.State != vaultapi.LoginPending || wait <= 0 {
		return st, nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-ctx.Done():
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return s.state, nil
}

// forgetOld drops logins that ended a while ago. Called with l.mu held.
func (l *Logins) forgetOld() {
	for id, s := range l.sessions {
		if !s.ended.IsZero() && time.Since(s.ended) > forgetAfter {
			delete(l.sessions, id)
		}
	}
}

// Close ends the pending device flows.
func (l *Logins) Close() {
	close(l.stop)
	l.wg.Wait()
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return "login-" + hex.EncodeToString(b[:])
}
