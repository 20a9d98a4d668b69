package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// Go fuzz targets of terok-web's TCP listener, each against a real
// terok-web (fake daemons behind it) on loopback, started once per fuzz
// process. scripts/test.sh runs them bounded by a count of inputs; the
// seeds run with every go test. What each asserts: no 500 (a bug of
// terok-web: 502 and 503 for a daemon stay what they are), no 2xx for a
// request of the API without the token, and terok-web alive after it (a
// panic outside a handler ends the fuzz process: a finding).

// fuzzWeb starts terok-web for a fuzz target.
func fuzzWeb(f *testing.F) (cfg webConfig) {
	ctx, cancel := context.WithCancel(context.Background())
	c, tcp, done := started(f, ctx, "127.0.0.1:1")
	f.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(2 * time.Minute):
			f.Error("terok-web did not stop")
		}
	})
	return webConfig{socket: c.Socket, tcp: tcp, token: c.Token}
}

type webConfig struct{ socket, tcp, token string }

// roundTrip sends raw on a new connection and reads one answer; ok is
// false when none came (the server closed the connection on a request
// it could not read, or the bound passed).
func roundTrip(t *testing.T, addr string, raw []byte) (resp *http.Response, body []byte, ok bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("terok-web does not answer: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(raw); err != nil {
		return nil, nil, false
	}
	resp, err = http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return nil, nil, false
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, body, true
}

// alive checks that terok-web answers the token.
func alive(t *testing.T, w webConfig) {
	t.Helper()
	resp, body, ok := roundTrip(t, w.tcp, []byte("GET /api/v1/projects HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "+w.token+"\r\nConnection: close\r\n\r\n"))
	// 429: inputs with wrong credentials from this address (the fuzzer's)
	// have met the login limit, which refuses every credential for a few
	// seconds; a coherent answer is what counts here.
	if !ok || (resp.StatusCode != 200 && resp.StatusCode != http.StatusTooManyRequests) {
		t.Fatalf("terok-web after the input: %v %s", resp, body)
	}
}

// streams are requests that answer for as long as a task runs or a log
// grows: not what this target is for (TestHostileWeb… holds them).
func streams(target string) bool {
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return false // the server cannot route it either
	}
	f := u.Query().Get("follow")
	return f == "1" || f == "true" || strings.HasSuffix(u.Path, "/wait") || strings.Contains(u.Path, "/events") || strings.Contains(u.Path, "/attach")
}

// FuzzWebAPI: a request to the API or the UI (method, target with its
// query, JSON body), with the token and without it.
func FuzzWebAPI(f *testing.F) {
	for _, s := range []struct{ method, target, body string }{
		{"GET", "/api/v1/projects", ""},
		{"POST", "/api/v1/projects", `{"name":"p1","agent":{"command":"a"}}`},
		{"PUT", "/api/v1/projects/demo", `{"name":"demo","agent":{"command":"b"},"run":{"web_port":8080}}`},
		{"GET", "/api/v1/projects/demo/gate/diff?base=main&head=agent%2Fx", ""},
		{"GET", "/api/v1/projects/demo/gate/log?branch=main&limit=-1", ""},
		{"POST", "/api/v1/projects/demo/gate/promote", `{"branch":"agent/x","to":"main"}`},
		{"GET", "/api/v1/tasks?project=demo&state=running", ""},
		{"POST", "/api/v1/tasks", `{"project":"demo","prompt":"hi","mode":"web"}`},
		{"GET", "/api/v1/tasks/abc234/logs?tail=10", ""},
		{"GET", "/api/v1/tasks/abc234/timeline", ""},
		{"POST", "/api/v1/tasks/abc234/followup", `{"prompt":"more"}`},
		{"POST", "/api/v1/tasks/abc234/shield/allow", `{"target":"example.org"}`},
		{"POST", "/api/v1/tasks/abc234/shield/mode", `{"mode":"audit"}`},
		{"GET", "/api/v1/tasks/abc234/shield/audit?since=-5&limit=x", ""},
		{"GET", "/api/v1/daemons/terok-gate/log?bytes=100&offset=-1", ""},
		{"POST", "/api/v1/daemons/terok-gate/restart", ""},
		{"GET", "/api/v1/web/url", ""},
		{"POST", "/api/v1/images", "not a tarball"},
		{"DELETE", "/api/v1/tasks/abc234", ""},
		{"GET", "/login?next=//evil.example/", ""},
		{"GET", "/static/..%2f..%2fetc%2fpasswd", ""},
		{"GET", "/?token=x", ""},
	} {
		f.Add(s.method, s.target, []byte(s.body))
	}
	w := fuzzWeb(f)
	f.Fuzz(func(t *testing.T, method, target string, body []byte) {
		if streams(target) {
			t.Skip()
		}
		for _, withToken := range []bool{true, false} {
			var raw bytes.Buffer
			fmt.Fprintf(&raw, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n", method, target)
			if withToken {
				raw.WriteString("Authorization: Bearer " + w.token + "\r\n")
			}
			fmt.Fprintf(&raw, "Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", len(body))
			raw.Write(body)
			resp, got, ok := roundTrip(t, w.tcp, raw.Bytes())
			if !ok {
				continue // refused unread (a malformed request line or header)
			}
			if resp.StatusCode == http.StatusInternalServerError || resp.StatusCode >= 600 {
				t.Fatalf("%s %q (token %v): %d %s", method, target, withToken, resp.StatusCode, got)
			}
			if !withToken && resp.StatusCode < 300 && isAPI(target) {
				t.Fatalf("%s %q without the token: %d %s", method, target, resp.StatusCode, got)
			}
		}
		alive(t, w)
	})
}

// isAPI reports whether target names the API (as the server's router
// sees it: the decoded path).
func isAPI(target string) bool {
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return strings.Contains(target, "/api/")
	}
	return strings.HasPrefix(u.Path, "/api/") || strings.HasPrefix(u.Path, "/healthz")
}

// FuzzWebSocketFrames: bytes on an open WebSocket of the events or of a
// terminal: raw (any framing), or one masked frame of the input's opcode
// and payload (a resize message, a subscription, a control frame). The
// server's answer to the upgrade is 101; whatever follows, terok-web
// ends the connection or keeps it (until the client leaves), and serves
// the token after.
func FuzzWebSocketFrames(f *testing.F) {
	f.Add(uint8(0), uint8(1), []byte(`{"logs":["abc234"]}`))
	f.Add(uint8(1), uint8(1), []byte(`{"type":"resize","rows":-1,"cols":70000}`))
	f.Add(uint8(1), uint8(2), []byte("ls\n"))
	f.Add(uint8(1), uint8(8), []byte{0x03, 0xe8})
	f.Add(uint8(0), uint8(9), bytes.Repeat([]byte("p"), 200))
	f.Add(uint8(0), uint8(0x80), []byte{0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add(uint8(1), uint8(0x80), []byte{0x01, 0x85, 0, 0, 0, 0, 'h', 'e'})
	w := fuzzWeb(f)
	sock := webapi.New(w.socket)
	task, err := sock.Run(context.Background(), webapi.RunRequest{Project: "demo"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, target, op uint8, payload []byte) {
		path := "/api/v1/events"
		if target%2 == 1 {
			path = webapi.AttachURL(task.ID, "")
		}
		c, err := net.Dial("tcp", w.tcp)
		if err != nil {
			t.Fatalf("terok-web does not answer: %v", err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", path, w.token)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade of %s: %v %v", path, resp, err)
		}
		if op&0x80 != 0 {
			_, _ = c.Write(payload) // raw bytes, any framing
		} else {
			_, _ = c.Write(frame(op&0x0f, payload))
		}
		// The client leaves; terok-web ends its side.
		_ = c.(*net.TCPConn).CloseWrite()
		_, err = io.Copy(io.Discard, br)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s: the connection was not ended after the client left", path)
		}
		alive(t, w)
	})
}

// frame is one final, masked client frame (RFC 6455 5.2).
func frame(op uint8, payload []byte) []byte {
	out := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		out = append(out, 0x80|byte(n))
	case n <= 0xffff:
		out = append(out, 0x80|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	mask := [4]byte{0x12, 0x34, 0x56, 0x78}
	out = append(out, mask[:]...)
	for i, b := range payload {
		out = append(out, b^mask[i%4])
	}
	return out
}
