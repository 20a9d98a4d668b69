package logging

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/rs/zerolog"
)

func TestParseLevel(t *testing.T) {
	cases := []struct {
		in      string
		want    zerolog.Level
		wantErr bool
	}{
		{"", zerolog.InfoLevel, false},
		{"debug", zerolog.DebugLevel, false},
		{" WARN ", zerolog.WarnLevel, false},
		{"warning", zerolog.WarnLevel, false},
		{"trace", zerolog.TraceLevel, false},
		{"loud", zerolog.InfoLevel, true},
	}
	for _, c := range cases {
		got, err := ParseLevel(c.in)
		if got != c.want || (err != nil) != c.wantErr {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v, err=%v", c.in, got, err, c.want, c.wantErr)
		}
	}
}

func TestNewWritesJSONToNonTerminal(t *testing.T) {
	t.Setenv(EnvLevel, "warn")
	var buf bytes.Buffer
	log, err := New(&buf, "test")
	if err != nil {
		t.Fatal(err)
	}
	log.Info().Msg("hidden")
	log.Warn().Msg("shown")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("want one JSON line, got %q: %v", buf.String(), err)
	}
	if line["message"] != "shown" || line["component"] != "test" {
		t.Fatalf("unexpected line %v", line)
	}
}

func TestNewBadLevelStillLogs(t *testing.T) {
	t.Setenv(EnvLevel, "nope")
	var buf bytes.Buffer
	log, err := New(&buf, "x")
	if err == nil {
		t.Fatal("want an error for a bad level")
	}
	log.Info().Msg("still here")
	if buf.Len() == 0 {
		t.Fatal("logger should still write at info")
	}
}
