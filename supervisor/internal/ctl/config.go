package ctl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/terok-ai/terok-in-docker/supervisor/internal/config"
)

// ClientConfig is the [supervisorctl] section of a supervisord config, as
// Python's ClientOptions reads it: serverurl (default
// http://localhost:9001), username, password, prompt (default
// "supervisor"), history_file. Values get %(ENV_X)s expansion; serverurl and
// history_file also %(here)s, the config file's directory. [include] is not
// followed, as Python's client does not follow it either.
type ClientConfig struct {
	ServerURL   string
	Username    *string
	Password    *string
	Prompt      string
	HistoryFile string
}

// ReadClientConfig reads path's [supervisorctl] section. env is the process
// environment as KEY=VALUE strings.
func ReadClientConfig(path string, env []string) (*ClientConfig, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%w: could not find config file %s", ErrUsage, path)
	}
	here := filepath.Dir(abs)
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("%w: could not find config file %s", ErrUsage, path)
		}
		return nil, fmt.Errorf("%w: could not read config file %s", ErrUsage, path)
	}
	defer f.Close()
	sections, err := parseINI(f, path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	sec, ok := sections["supervisorctl"]
	if !ok {
		return nil, fmt.Errorf("%w: %v", ErrUsage, ErrNoSection)
	}
	for k, v := range sections["DEFAULT"] {
		if _, set := sec[k]; !set {
			sec[k] = v
		}
	}
	exp := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			exp["ENV_"+k] = v
		}
	}
	withHere := map[string]string{"here": here}
	for k, v := range exp {
		withHere[k] = v
	}
	get := func(key string, names map[string]string) (*string, error) {
		v, ok := sec[key]
		if !ok {
			return nil, nil
		}
		s, err := expand(v, names, "supervisorctl."+key)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUsage, err)
		}
		return &s, nil
	}
	cfg := &ClientConfig{ServerURL: "http://localhost:9001", Prompt: "supervisor"}
	if v, err := get("serverurl", withHere); err != nil {
		return nil, err
	} else if v != nil {
		cfg.ServerURL = *v
	}
	if rest, ok := strings.CutPrefix(cfg.ServerURL, "unix://"); ok {
		cfg.ServerURL = "unix://" + normalizePath(rest)
	}
	if v, err := get("prompt", exp); err != nil {
		return nil, err
	} else if v != nil {
		cfg.Prompt = *v
	}
	if cfg.Username, err = get("username", exp); err != nil {
		return nil, err
	}
	if cfg.Password, err = get("password", exp); err != nil {
		return nil, err
	}
	if v, err := get("history_file", withHere); err != nil {
		return nil, err
	} else if v != nil && *v != "" {
		cfg.HistoryFile = normalizePath(*v)
	}
	return cfg, nil
}

// normalizePath is os.path.normpath(abspath(expanduser(p))).
func normalizePath(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = home + p[1:]
		}
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return filepath.Clean(p)
}

// parseINI reads an ini file with config's reader (the rules of Python's
// RawConfigParser as supervisor sets it up) and words its syntax errors as
// Python's client does.
func parseINI(f *os.File, name string) (map[string]map[string]string, error) {
	sections, err := config.ReadSections(f, name)
	var se *config.SyntaxError
	switch {
	case errors.As(err, &se) && se.NoSection:
		return nil, fmt.Errorf("file contains no section headers: %s line %d: %s", name, se.Line, se.Text)
	case errors.As(err, &se):
		return nil, fmt.Errorf("file contains parsing errors: %s line %d: %s", name, se.Line, se.Text)
	case err != nil:
		return nil, fmt.Errorf("could not read config file %s: %v", name, err)
	}
	return sections, nil
}

// expand is Python's "s % names" for a dict: %(name)s substitutes, %%
// gives %, anything else is an error naming the key and what is available.
func expand(s string, names map[string]string, key string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '%' {
			b.WriteByte('%')
			i++
			continue
		}
		if i+1 < len(s) && s[i+1] == '(' {
			end := strings.IndexByte(s[i+2:], ')')
			if end >= 0 && i+2+end+1 < len(s) && s[i+2+end+1] == 's' {
				name := s[i+2 : i+2+end]
				v, ok := names[name]
				if !ok {
					avail := make([]string, 0, len(names))
					for k := range names {
						avail = append(avail, k)
					}
					sort.Strings(avail)
					//lint:ignore ST1005 the message is Python supervisorctl's, word for word
					return "", fmt.Errorf("Format string %s for %s contains names (%s) which cannot be expanded. Available names: %s",
						pyRepr(s), pyRepr(key), pyRepr(name), strings.Join(avail, ", "))
				}
				b.WriteString(v)
				i += 2 + end + 1
				continue
			}
		}
		//lint:ignore ST1005 the message is Python supervisorctl's, word for word
		return "", fmt.Errorf("Format string %s for %s is badly formatted: use %%(ENV_NAME)s or %%(here)s, and %%%% for a literal %%", pyRepr(s), pyRepr(key))
	}
	return b.String(), nil
}
