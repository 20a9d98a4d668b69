// Package agentsettings carries the settings an agent reads from its
// own config file rather than from its environment (Codex's
// openai_base_url in ~/.codex/config.toml) from terok-web, which knows
// them from the agent's recipe, to terok-entry, which writes them into
// the task's home before the agent runs.
//
// terok-web passes them in one variable, Env, holding a JSON list of
// Setting. A file's format is told by its extension (Format): .toml
// gets a top-level (possibly dotted) key, .json a nested key by dots;
// any other extension is refused, by recipe validation already.
//
// The package uses the standard library only: terok-entry, a static
// binary bind-mounted into every task, imports it.
package agentsettings

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Env is the variable of a task's container holding its settings, a
// JSON list of Setting ([{"file":…,"key":…,"value":…}]); unset when
// there are none.
const Env = "TEROK_AGENT_SETTINGS"

// Setting is one value to write into one key of an agent's config file.
type Setting struct {
	// File is the config file, ~/… (the task user's $HOME) or absolute,
	// e.g. ~/.codex/config.toml.
	File string `json:"file"`
	// Key is the key to set, dotted for a nested one (e.g.
	// openai_base_url, or provider.anthropic.options.baseURL).
	Key string `json:"key"`
	// Value is the string the key holds.
	Value string `json:"value"`
}

// ErrUnsupported means a config file's extension is none Format knows.
var ErrUnsupported = errors.New("unsupported config file")

// ErrInvalid means a setting, or the file it goes into, cannot be used
// as it is (a malformed file, a bad key or path).
var ErrInvalid = errors.New("invalid agent setting")

// The formats Format returns.
const (
	TOML = "toml"
	JSON = "json"
)

// keyRE is a dotted key of bare TOML keys (which JSON accepts too).
var keyRE = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)

// Format returns the format of config file name by its extension (TOML
// or JSON); another extension is ErrUnsupported, with the fix.
func Format(name string) (string, error) {
	switch strings.ToLower(path.Ext(name)) {
	case ".toml":
		return TOML, nil
	case ".json":
		return JSON, nil
	}
	return "", fmt.Errorf("%w: %s: terok writes only .toml and .json config files; give the agent's base URL through an env variable (base_url.env) instead, or a config file ending in .toml or .json", ErrUnsupported, name)
}

// CheckFile checks a config file's name as a Setting's File: ~/… or an
// absolute, clean path whose extension Format knows.
func CheckFile(name string) error {
	p := name
	if rest, ok := strings.CutPrefix(name, "~/"); ok {
		p = "/" + rest
	}
	if !path.IsAbs(p) || path.Clean(p) != p || p == "/" {
		return fmt.Errorf("%w: %s: give the file as ~/PATH (in the task user's home) or an absolute, clean path, e.g. ~/.codex/config.toml", ErrInvalid, name)
	}
	_, err := Format(name)
	return err
}

// Check checks s: its file (CheckFile) and its key (dotted bare keys).
func (s Setting) Check() error {
	if err := CheckFile(s.File); err != nil {
		return err
	}
	if !keyRE.MatchString(s.Key) {
		return fmt.Errorf("%w: %s: key %q: use a dotted key of letters, digits, _ and -, e.g. openai_base_url", ErrInvalid, s.File, s.Key)
	}
	return nil
}

// Encode returns the value of Env for list ("" when it is empty).
func Encode(list []Setting) (string, error) {
	if len(list) == 0 {
		return "", nil
	}
	for _, s := range list {
		if err := s.Check(); err != nil {
			return "", err
		}
	}
	b, err := json.Marshal(list)
	if err != nil {
		return "", fmt.Errorf("encode agent settings: %w", err)
	}
	return string(b), nil
}

// Decode parses the value of Env ("" is none) and checks each setting.
func Decode(v string) ([]Setting, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	var list []Setting
	if err := json.Unmarshal([]byte(v), &list); err != nil {
		return nil, fmt.Errorf("%w: %s is not a JSON list of {file, key, value}: %v (terok-web sets it; run the task again with a terok-entry and terok-web of the same version)", ErrInvalid, Env, err)
	}
	for _, s := range list {
		if err := s.Check(); err != nil {
			return nil, err
		}
	}
	return list, nil
}
