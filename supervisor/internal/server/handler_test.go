package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

// The socket's JSON paths have kit's access line (no query, so no secret
// a query may carry); XML-RPC and the log tails keep Python's answers and
// log no line a call.
func TestHandlerLogsJSONPathsNotXMLRPC(t *testing.T) {
	var logs testkit.SyncBuffer
	s := &Supervisor{log: zerolog.New(&logs), state: stateRunning, groups: map[string]*group{}}
	srv := httptest.NewServer(NewRPC(s).Handler("", "", nil))
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/v1/health"); code != 200 || !strings.Contains(body, `"terok-supervisord"`) {
		t.Fatalf("health: %d %s", code, body)
	}
	if code, body := get("/v1/nope?token=SECRET"); code != 404 || !strings.Contains(body, `"error"`) {
		t.Fatalf("unknown route: %d %s", code, body)
	}
	resp, err := http.Post(srv.URL+"/RPC2", "text/xml",
		strings.NewReader(`<?xml version="1.0"?><methodCall><methodName>supervisor.getState</methodName><params/></methodCall>`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "RUNNING") {
		t.Fatalf("XML-RPC: %d %s", resp.StatusCode, b)
	}
	if code, _ := get("/mainlogtail"); code != http.StatusNotFound { // this supervisor keeps no main log
		t.Fatalf("the main log's tail: %d", code)
	}
	l := logs.String()
	if strings.Contains(l, "SECRET") || strings.Contains(l, "/RPC2") || strings.Contains(l, "/mainlogtail") {
		t.Fatalf("the log holds a query or an XML-RPC call:\n%s", l)
	}
	for _, want := range []string{`"level":"debug","method":"GET","path":"/v1/health","status":200`, `"level":"info","method":"GET","path":"/v1/nope","status":404`} {
		if !strings.Contains(l, want) {
			t.Errorf("no access line %s in:\n%s", want, l)
		}
	}
}
