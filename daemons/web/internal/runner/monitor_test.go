package runner

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/web/internal/events"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

func TestLogWriterCutsLongLinesForEventsOnly(t *testing.T) {
	hub := events.New()
	sub := hub.Subscribe(16)
	if !sub.WatchLogs(webapi.Event{Type: webapi.EventSubscribed}, "abc234") {
		t.Fatal("watch")
	}
	<-sub.C
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lw := &logWriter{f: f, r: &Runner{hub: hub}, id: "abc234"}
	big := bytes.Repeat([]byte("y"), 10<<20)
	lw.Write([]byte("first\nsec"))
	lw.Write([]byte("ond\n"))
	// A 10 MB line arrives in pieces, as a stream delivers it.
	for i := 0; i < len(big); i += 32 << 10 {
		lw.Write(big[i:min(i+32<<10, len(big))])
	}
	lw.Write([]byte("\nlast\n"))
	var lines []string
	for len(sub.C) > 0 {
		e := <-sub.C
		lines = append(lines, e.Line)
	}
	if len(lines) != 4 || lines[0] != "first" || lines[1] != "second" || lines[3] != "last" {
		t.Fatalf("events: %d lines, first %q", len(lines), lines)
	}
	if len(lines[2]) > maxEventLine+100 || !strings.HasSuffix(lines[2], "[line cut; the log file has all of it]") {
		t.Fatalf("long line event is %d bytes", len(lines[2]))
	}
	st, _ := f.Stat()
	if want := int64(len("first\nsecond\n") + len(big) + len("\nlast\n")); st.Size() != want {
		t.Fatalf("log file has %d bytes, want all %d", st.Size(), want)
	}
	_ = webapi.EventLog
}
