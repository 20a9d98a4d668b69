package oauth

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/fakeupstream"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/providers"
	"github.com/terok-ai/terok-in-docker/daemons/vault/vaultapi"
)

// memStore is the store seam: tokens in memory, problems recorded.
type memStore struct {
	mu       sync.Mutex
	toks     map[string]Token
	problems map[string]string
	saves    int
}

func (m *memStore) LoadToken(provider, project string) (Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.toks[provider+"/"+project]
	if !ok {
		return Token{}, errors.New("none")
	}
	return t, nil
}

func (m *memStore) SaveToken(provider, project string, t Token) (vaultapi.Secret, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.toks[provider+"/"+project] = t
	m.saves++
	return vaultapi.Secret{Provider: provider, Project: project, Kind: vaultapi.KindOAuth}, nil
}

func (m *memStore) MarkProblem(provider, project, problem string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.problems[provider+"/"+project] = problem
	return nil
}

func (m *memStore) token(k string) Token {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.toks[k]
}

type rig struct {
	ep    *fakeupstream.TokenEndpoint
	store *memStore
	m     *Manager
	p     *providers.Provider
}

func newRig(t *testing.T, before time.Duration) *rig {
	t.Helper()
	ca, err := testkit.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	ep, err := fakeupstream.StartTokenEndpoint(ca, "rt-0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ep.Close)
	src := "upstream https://127.0.0.1:1\ninject x-api-key\nphantom sk-{alnum:40}\nroute POST /v1/messages\n" + ep.LoginLines()
	p, err := providers.Parse("fake", "fake.provider", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig(ca)}}
	st := &memStore{toks: map[string]Token{}, problems: map[string]string{}}
	m := NewManager(&Client{HTTP: hc}, st, before, zerolog.Nop())
	t.Cleanup(m.Close)
	return &rig{ep: ep, store: st, m: m, p: p}
}

// waitFor polls cond for up to 15 s (bounded; the time is not asserted).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 300 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

func TestRefreshOnDemandRotatesOnce(t *testing.T) {
	r := newRig(t, time.Minute)
	// An expired access token: the next Access refreshes.
	r.store.toks["fake/"] = Token{AccessToken: "old-access", RefreshToken: "rt-0", Expiry: time.Now().Add(-time.Minute)}
	// Twenty callers at once make exactly one refresh.
	var wg sync.WaitGroup
	got := make([]string, 20)
	errs := make([]error, 20)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = r.m.Access(context.Background(), r.p, "")
		}()
	}
	wg.Wait()
	issued := r.ep.Issued()
	if len(issued) != 1 {
		t.Fatalf("%d refreshes for 20 concurrent callers; want 1", len(issued))
	}
	for i := range got {
		if errs[i] != nil || got[i] != issued[0] {
			t.Fatalf("caller %d: %q %v; want %q", i, got[i], errs[i], issued[0])
		}
	}
	saved := r.store.token("fake/")
	if saved.RefreshToken == "rt-0" || saved.AccessToken != issued[0] {
		t.Errorf("the rotated token was not saved: %+v", saved)
	}
	// Expire it again: the next refresh presents the rotated token, never rt-0.
	r.m.refs[scope{"fake", ""}].mu.Lock()
	r.m.refs[scope{"fake", ""}].tok.Expiry = time.Now()
	r.m.refs[scope{"fake", ""}].mu.Unlock()
	if _, err := r.m.Access(context.Background(), r.p, ""); err != nil {
		t.Fatal(err)
	}
	if pr := r.ep.Presented(); len(pr) != 2 || pr[0] != "rt-0" || pr[1] != saved.RefreshToken {
		t.Errorf("presented %v", pr)
	}
	if re := r.ep.Reused(); len(re) != 0 {
		t.Errorf("rotated-out refresh tokens were sent again: %v", re)
	}
}

func TestBackgroundRefreshBeforeExpiry(t *testing.T) {
	r := newRig(t, time.Hour) // any token with less than an hour left is due
	r.store.toks["fake/"] = Token{AccessToken: "a0", RefreshToken: "rt-0", Expiry: time.Now().Add(30 * time.Minute)}
	// The token is still valid, so Access itself does not refresh; the
	// refresher it starts may already have (it runs beside the call), so
	// the answer is the old token or the one that refresh issued.
	a, err := r.m.Access(context.Background(), r.p, "")
	if err != nil || a == "" {
		t.Fatalf("first access %q %v", a, err)
	}
	// The refresher saw it due and refreshed by itself, without a caller.
	waitFor(t, "a background refresh", func() bool { return r.store.token("fake/").AccessToken != "a0" })
	if fresh := r.store.token("fake/").AccessToken; a != "a0" && a != fresh {
		t.Errorf("first access %q: neither the stored token nor the refreshed %q", a, fresh)
	}
	// A fresh token lives an hour: due again at half its life, not at
	// once (no refresh loop).
	time.Sleep(300 * time.Millisecond)
	r.m.Close()
	if n := len(r.ep.Issued()); n != 1 {
		t.Errorf("%d refreshes; want 1", n)
	}
	if len(r.m.refs) != 0 {
		t.Error("closed manager keeps a refresher")
	}
}

func TestRefusedRefreshNeedsLogin(t *testing.T) {
	r := newRig(t, time.Minute)
	r.ep.Set(func(e *fakeupstream.TokenEndpoint) { e.Fail = []string{"invalid_grant"} })
	r.store.toks["fake/"] = Token{AccessToken: "a0", RefreshToken: "rt-0", Expiry: time.Now().Add(-time.Second)}
	_, err := r.m.Access(context.Background(), r.p, "")
	if !errors.Is(err, ErrNoLogin) {
		t.Fatalf("%v, want ErrNoLogin", err)
	}
	if r.store.problems["fake/"] == "" {
		t.Error("the failed login was not recorded")
	}
	// Dead: no more attempts, the same answer.
	if _, err := r.m.Access(context.Background(), r.p, ""); !errors.Is(err, ErrNoLogin) {
		t.Errorf("second access: %v", err)
	}
	if n := len(r.ep.Presented()); n != 1 {
		t.Errorf("%d refresh attempts after a refusal, want 1", n)
	}
}

func TestTransientFailureRetries(t *testing.T) {
	// The token has 8 s left: too little for Access (which refreshes),
	// while the background refresh is due only a second before expiry,
	// so the callers here meet the endpoint first.
	r := newRig(t, time.Second)
	r.ep.Set(func(e *fakeupstream.TokenEndpoint) { e.Fail = []string{"503"} })
	r.store.toks["fake/"] = Token{AccessToken: "a0", RefreshToken: "rt-0", Expiry: time.Now().Add(8 * time.Second)}
	if _, err := r.m.Access(context.Background(), r.p, ""); !errors.Is(err, ErrTransient) {
		t.Fatalf("%v, want ErrTransient", err)
	}
	a, err := r.m.Access(context.Background(), r.p, "")
	if err != nil || a == "" {
		t.Fatalf("after the endpoint recovered: %q %v", a, err)
	}
	if r.store.problems["fake/"] != "" {
		t.Errorf("a transient failure was recorded as a problem")
	}
}

func TestLogins(t *testing.T) {
	r := newRig(t, time.Minute)
	l := NewLogins(r.m, zerolog.Nop())
	defer l.Close()

	// A pasted refresh token: exchanged at once.
	st, err := l.Start(context.Background(), r.p, "demo", providers.FlowRefreshToken, "rt-0")
	if err != nil || st.State != vaultapi.LoginDone || st.Secret == nil {
		t.Fatalf("paste: %+v %v", st, err)
	}
	if tok := r.store.token("fake/demo"); tok.AccessToken == "" || tok.RefreshToken == "rt-0" {
		t.Errorf("stored %+v", tok)
	}
	st, _ = l.Start(context.Background(), r.p, "demo", providers.FlowRefreshToken, "rt-unknown")
	if st.State != vaultapi.LoginFailed || st.Error == "" {
		t.Errorf("bad paste: %+v", st)
	}

	// The device flow: pending twice, then done.
	r.ep.Set(func(e *fakeupstream.TokenEndpoint) { e.PendingPolls = 2 })
	st, err = l.Start(context.Background(), r.p, "", providers.FlowDevice, "")
	if err != nil || st.State != vaultapi.LoginPending || st.UserCode != "WDJB-MJHT" || st.VerificationURI == "" {
		t.Fatalf("device start: %+v %v", st, err)
	}
	var final vaultapi.LoginState
	for range 20 { // bounded: each wait is at most 2 s
		final, err = l.Get(context.Background(), st.ID, 2*time.Second)
		if err != nil || final.State != vaultapi.LoginPending {
			break
		}
	}
	if final.State != vaultapi.LoginDone || final.Secret == nil || final.UserCode != "" {
		t.Fatalf("device end: %+v %v", final, err)
	}
	if a, err := r.m.Access(context.Background(), r.p, ""); err != nil || a == "" {
		t.Errorf("access after device login: %q %v", a, err)
	}
	if _, err := l.Get(context.Background(), "login-nope", 0); !errors.Is(err, ErrUnknownLogin) {
		t.Errorf("unknown id: %v", err)
	}
	p2 := *r.p
	p2.Login = nil
	if _, err := l.Start(context.Background(), &p2, "", providers.FlowDevice, ""); !errors.Is(err, ErrNoLogin) {
		t.Errorf("provider without login: %v", err)
	}
}
