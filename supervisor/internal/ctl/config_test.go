package ctl

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadClientConfig(t *testing.T) {
	abs, err := filepath.Abs("testdata/config")
	if err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(filepath.Dir(abs), "run", "supervisor.sock")
	env := []string{"TKCTL_USER=alice", "HOME=/nonexistent"}
	tests := []struct {
		file    string
		want    ClientConfig
		wantErr string
	}{
		{file: "full.conf", want: ClientConfig{ServerURL: "unix://" + run, Username: sp("alice"), Password: sp("p#w;d"),
			Prompt: "terok\ncontinued", HistoryFile: filepath.Join(abs, "hist")}},
		{file: "blankline.conf", want: ClientConfig{ServerURL: "http://localhost:9001", Prompt: "terok\n\ncontinued"}}, // as Python's
		{file: "defaults.conf", want: ClientConfig{ServerURL: "http://localhost:9001", Prompt: "fromdefault"}},
		{file: "percent.conf", want: ClientConfig{ServerURL: "http://127.0.0.1:9001", Password: sp("100%"), Prompt: "supervisor"}},
		{file: "nosection.conf", wantErr: ".ini file does not include supervisorctl section"},
		{file: "herenotallowed.conf", wantErr: "Format string '%(here)s' for 'supervisorctl.prompt' contains names ('here') which cannot be expanded. Available names: ENV_HOME, ENV_TKCTL_USER"},
		{file: "badformat.conf", wantErr: "Format string 'unix:///x%d' for 'supervisorctl.serverurl' is badly formatted"},
		{file: "nosectionheader.conf", wantErr: "file contains no section headers"},
		{file: "missing.conf", wantErr: "could not find config file testdata/config/missing.conf"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			got, err := ReadClientConfig(filepath.Join("testdata/config", tc.file), env)
			if tc.wantErr != "" {
				if err == nil || !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ServerURL != tc.want.ServerURL || got.Prompt != tc.want.Prompt || got.HistoryFile != tc.want.HistoryFile ||
				!eqPtr(got.Username, tc.want.Username) || !eqPtr(got.Password, tc.want.Password) {
				t.Fatalf("got %s, want %s", show(got), show(&tc.want))
			}
		})
	}
}

func eqPtr(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func show(c *ClientConfig) string {
	p := func(s *string) string {
		if s == nil {
			return "<nil>"
		}
		return *s
	}
	return "{url=" + c.ServerURL + " user=" + p(c.Username) + " pass=" + p(c.Password) + " prompt=" + c.Prompt + " hist=" + c.HistoryFile + "}"
}
