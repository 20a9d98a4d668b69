package webproxy

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// httptestReq is a request or none (nil: a web.sock caller).
type httptestReq struct{ r *http.Request }

func (h *httptestReq) get() *http.Request {
	if h == nil {
		return nil
	}
	return h.r
}

// TestAddresses: a task UI's address follows the host the caller used
// for terok; through TEROK_PUBLIC_URL it takes its scheme and
// TEROK_PUBLIC_HOST (else its host); without a browser's host it comes
// from the settings.
func TestAddresses(t *testing.T) {
	req := func(host, proto string) *httptestReq {
		r := httptest.NewRequest("GET", "/api/v1/tasks/x", nil)
		r.Host = host
		if proto != "" {
			r.Header.Set("X-Forwarded-Proto", proto)
		}
		return &httptestReq{r}
	}
	public, _ := url.Parse("https://terok.example.org/terok")
	plain := NewAddresses(nil, "", "0.0.0.0:8566")
	pub := NewAddresses(public, "", "127.0.0.1:8566")
	pubHost := NewAddresses(public, "tasks.example.org", "127.0.0.1:8566")
	hostOnly := NewAddresses(nil, "lan-box", "0.0.0.0:8566")
	for _, tc := range []struct {
		name string
		a    *Addresses
		r    *httptestReq
		want string
	}{
		{"browser by IP", plain, req("192.0.2.7:8566", ""), "http://192.0.2.7:7861/"},
		{"browser by name", plain, req("buildbox.lan:8566", ""), "http://buildbox.lan:7861/"},
		{"browser by IPv6", plain, req("[2001:db8::1]:8566", ""), "http://[2001:db8::1]:7861/"},
		{"socket, wildcard listen", plain, nil, "http://localhost:7861/"},
		{"through the public URL", pub, req("terok.example.org", "https"), "https://terok.example.org:7861/"},
		{"directly, with a public URL set", pub, req("127.0.0.1:8566", ""), "http://127.0.0.1:7861/"},
		{"socket, public URL", pub, nil, "https://terok.example.org:7861/"},
		{"through the public URL, public host", pubHost, req("terok.example.org", "https"), "https://tasks.example.org:7861/"},
		{"socket, public host only", hostOnly, nil, "http://lan-box:7861/"},
	} {
		got := tc.a.TaskURL(tc.r.get(), 7861)
		if got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := pub.FrameSource(req("terok.example.org", "https").get()); got != "https://terok.example.org:*" {
		t.Errorf("frame source %q", got)
	}
	// The page a task listener links back to.
	if got := pub.TaskPage(req("terok.example.org:7861", "https").get(), "t1"); got != "https://terok.example.org/terok/task/t1" {
		t.Errorf("task page through the proxy: %q", got)
	}
	if got := plain.TaskPage(req("192.0.2.7:7861", "").get(), "t1"); got != "http://192.0.2.7:8566/task/t1" {
		t.Errorf("task page directly: %q", got)
	}
}
