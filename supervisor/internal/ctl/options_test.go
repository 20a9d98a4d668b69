package ctl

import (
	"errors"
	"reflect"
	"testing"
)

func sp(s string) *string { return &s }

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    *Options
		wantErr string
	}{
		{"command only", []string{"status"}, &Options{Args: []string{"status"}}, ""},
		{"options stop at the command", []string{"-c", "f.conf", "status", "-c", "x"},
			&Options{ConfigFile: "f.conf", Args: []string{"status", "-c", "x"}}, ""},
		{"glued short value", []string{"-cf.conf", "pid"}, &Options{ConfigFile: "f.conf", Args: []string{"pid"}}, ""},
		{"clustered flags", []string{"-is", "unix:///x.sock"}, &Options{Interactive: true, ServerURL: "unix:///x.sock"}, ""},
		{"long with = and abbreviation", []string{"--configuration=a.conf", "--serv", "http://h:9001", "version"},
			&Options{ConfigFile: "a.conf", ServerURL: "http://h:9001", Args: []string{"version"}}, ""},
		{"empty username is given", []string{"-u", "", "-p", "pw"}, &Options{Username: sp(""), Password: sp("pw")}, ""},
		{"double dash ends options", []string{"--", "-c"}, &Options{Args: []string{"-c"}}, ""},
		{"lone dash is a word", []string{"-", "x"}, &Options{Args: []string{"-", "x"}}, ""},
		{"help", []string{"-h", "status"}, &Options{Help: true, Args: []string{"status"}}, ""},
		{"question mark", []string{"-?"}, &Options{Help: true}, ""},
		{"unknown short", []string{"-x"}, nil, "option -x not recognized"},
		{"unknown long", []string{"--bogus"}, nil, "option --bogus not recognized"},
		{"ambiguous prefix", []string{"--h"}, nil, "option --h not a unique prefix"},
		{"missing value", []string{"-c"}, nil, "option -c requires argument"},
		{"missing long value", []string{"--serverurl"}, nil, "option --serverurl requires argument"},
		{"value on a flag", []string{"--help=x"}, nil, "option --help must not have an argument"},
		{"not a URL", []string{"-s", "notaurl"}, nil, "invalid value for -s 'notaurl': value 'notaurl' is not a URL"},
		{"conflicting", []string{"-c", "a", "-c", "b"}, nil, "conflicting command line option '-c'"},
		{"conflicting long", []string{"-s", "unix:///a", "--serverurl=unix:///b"}, nil, "conflicting command line option '--serverurl'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseArgs(tc.args)
			if tc.wantErr != "" {
				if err == nil || !errors.Is(err, ErrUsage) || err.Error() != "usage: "+tc.wantErr {
					t.Fatalf("error = %v, want usage: %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSearchPaths(t *testing.T) {
	got := searchPaths("/usr/local/bin/supervisorctl")
	want := []string{"/etc/terok/supervisord.conf", "/usr/local/etc/supervisord.conf", "/usr/local/supervisord.conf",
		"supervisord.conf", "etc/supervisord.conf", "/etc/supervisord.conf", "/etc/supervisor/supervisord.conf"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("searchPaths = %q, want %q", got, want)
	}
}

func TestPyRepr(t *testing.T) {
	for in, want := range map[string]string{
		"abc": "'abc'", "it's": `"it's"`, `a'b"c`: `'a\'b"c'`, "t\tn\n": `'t\tn\n'`, `back\slash`: `'back\\slash'`,
	} {
		if got := pyRepr(in); got != want {
			t.Errorf("pyRepr(%q) = %s, want %s", in, got, want)
		}
	}
}
