package listenlimit_test

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/listenlimit"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// A browser-facing listener: a bearer access token or a session cookie is
// the credential. Keys name the credential without being it.
func ExampleNewServer() {
	const accessToken = "an-access-token-of-the-daemon"
	sessions := map[string]string{} // cookie value -> session id
	identify := func(r *http.Request) (listenlimit.Credential, bool) {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok &&
			subtle.ConstantTimeCompare([]byte(tok), []byte(accessToken)) == 1 {
			return listenlimit.Credential{Key: "access-token"}, true
		}
		if c, err := r.Cookie("session"); err == nil {
			if id, ok := sessions[c.Value]; ok {
				h := sha256.Sum256([]byte(id))
				return listenlimit.Credential{Key: "session:" + hex.EncodeToString(h[:6]), Value: id}, true
			}
		}
		return listenlimit.Credential{}, false
	}

	lim := listenlimit.Default()
	lim.MaxConnsPerCredential = 64 // a browser: six per origin per tab, plus WebSockets
	if err := lim.ApplyEnv("TEROK_WEB_", os.Getenv); err != nil {
		panic(err)
	}
	if err := lim.Validate(); err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	srv := listenlimit.NewServer(unixhttp.JSONErrors(mux), lim, listenlimit.Options{
		Identify: identify, Log: zerolog.Nop(), // refusals as JSON: the default Body
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // (the example stops at once)
	_ = unixhttp.ServeUntil(ctx, srv, ln, 5*time.Second)
}
