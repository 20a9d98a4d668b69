package ctl

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// procInfo is the part of getProcessInfo's struct the commands use.
type procInfo struct {
	Group, Name, StateName, Description string
	State, PID                          int
}

// result is one entry of a multi-process answer (startAllProcesses and
// friends) or a fault turned into one.
type result struct {
	Group, Name, Description string
	Status                   int
}

func str(m map[string]any, k string) string {
	switch v := m[k].(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

func num(m map[string]any, k string) int {
	switch v := m[k].(type) {
	case int:
		return v
	case bool:
		if v {
			return 1
		}
	case float64:
		return int(v)
	}
	return 0
}

func structs(v any) ([]map[string]any, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, &pyException{class: "TypeError", msg: fmt.Sprintf("expected an array from the server, got %T", v)}
	}
	out := make([]map[string]any, 0, len(arr))
	for _, e := range arr {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, &pyException{class: "TypeError", msg: fmt.Sprintf("expected a struct in the server's array, got %T", e)}
		}
		out = append(out, m)
	}
	return out, nil
}

func toInfo(m map[string]any) procInfo {
	return procInfo{Group: str(m, "group"), Name: str(m, "name"), StateName: str(m, "statename"),
		Description: str(m, "description"), State: num(m, "state"), PID: num(m, "pid")}
}

func infos(v any) ([]procInfo, error) {
	ms, err := structs(v)
	if err != nil {
		return nil, err
	}
	out := make([]procInfo, len(ms))
	for i, m := range ms {
		out[i] = toInfo(m)
	}
	return out, nil
}

func results(v any) ([]result, error) {
	ms, err := structs(v)
	if err != nil {
		return nil, err
	}
	out := make([]result, len(ms))
	for i, m := range ms {
		out[i] = result{Group: str(m, "group"), Name: str(m, "name"), Description: str(m, "description"), Status: num(m, "status")}
	}
	return out, nil
}

// makeNamespec is "group:name", or just name when both are equal.
func makeNamespec(group, name string) string {
	if group == name {
		return name
	}
	return group + ":" + name
}

// splitNamespec splits "group:name"; "group:" and "group:*" give an empty
// name with isGroup set, a bare word is both group and process name.
func splitNamespec(spec string) (group, name string, isGroup bool) {
	g, n, ok := strings.Cut(spec, ":")
	if !ok {
		return spec, spec, false
	}
	if n == "" || n == "*" {
		return g, "", true
	}
	return g, n, false
}

// pad left-aligns s in width runes, as Python's %-Ns does.
func pad(s string, width int) string {
	if n := utf8.RuneCountInString(s); n < width {
		return s + strings.Repeat(" ", width-n)
	}
	return s
}

// formatStatus renders status lines: the name column is at least 30 wide
// plus 3 spaces, the state column 10 wide.
func formatStatus(ps []procInfo) []string {
	names := make([]string, len(ps))
	maxlen := 30
	for i, p := range ps {
		names[i] = makeNamespec(p.Group, p.Name)
		if n := utf8.RuneCountInString(names[i]); n > maxlen {
			maxlen = n
		}
	}
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = pad(names[i], maxlen+3) + pad(p.StateName, 10) + p.Description
	}
	return lines
}

// formatConfigInfo renders one avail line.
func formatConfigInfo(m map[string]any) string {
	inuse, auto := "avail", "manual"
	if num(m, "inuse") != 0 {
		inuse = "in use"
	}
	if num(m, "autostart") != 0 {
		auto = "auto"
	}
	prio := fmt.Sprintf("%d:%d", num(m, "group_prio"), num(m, "process_prio"))
	return pad(makeNamespec(str(m, "group"), str(m, "name")), 32) + " " + pad(inuse, 9) + " " + pad(auto, 9) + " " + prio
}

// formatChanges renders reread's answer: each name with "available",
// "changed" or "disappeared", sorted by name.
func formatChanges(added, changed, dropped []string) []string {
	kinds := map[string]string{}
	for _, n := range added {
		kinds[n] = "available"
	}
	for _, n := range changed {
		kinds[n] = "changed"
	}
	for _, n := range dropped {
		kinds[n] = "disappeared"
	}
	if len(kinds) == 0 {
		return []string{"No config updates to processes"}
	}
	names := make([]string, 0, len(kinds))
	for n := range kinds {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n + ": " + kinds[n]
	}
	return out
}

func errorLine(name, what string) string { return name + ": ERROR (" + what + ")" }

// startResult renders one start answer.
func startResult(r result) (string, error) {
	name := makeNamespec(r.Group, r.Name)
	switch r.Status {
	case faultBadName:
		return errorLine(name, "no such process"), nil
	case faultNoFile:
		return errorLine(name, "no such file"), nil
	case faultNotExecutable:
		return errorLine(name, "file is not executable"), nil
	case faultAlreadyStarted:
		return errorLine(name, "already started"), nil
	case faultSpawnError:
		return errorLine(name, "spawn error"), nil
	case faultAbnormalTerm:
		return errorLine(name, "abnormal termination"), nil
	case faultSuccess:
		return name + ": started", nil
	}
	return "", unknownCode(r.Status, name)
}

// signalResult renders one stop or signal answer; success is "stopped" or
// "signalled".
func signalResult(r result, success string) (string, error) {
	name := makeNamespec(r.Group, r.Name)
	switch r.Status {
	case faultBadName:
		return errorLine(name, "no such process"), nil
	case faultBadSignal:
		return errorLine(name, "bad signal name"), nil
	case faultNotRunning:
		return errorLine(name, "not running"), nil
	case faultSuccess:
		return name + ": " + success, nil
	case faultFailed:
		return r.Description, nil
	}
	return "", unknownCode(r.Status, name)
}

// clearResult renders one clear answer.
func clearResult(r result) (string, error) {
	name := makeNamespec(r.Group, r.Name)
	switch r.Status {
	case faultBadName:
		return errorLine(name, "no such process"), nil
	case faultFailed:
		return errorLine(name, "failed"), nil
	case faultSuccess:
		return name + ": cleared", nil
	}
	return "", unknownCode(r.Status, name)
}

func unknownCode(code int, name string) error {
	return &pyException{class: "ValueError", msg: fmt.Sprintf("Unknown result code %d for %s", code, name)}
}

// stringList converts an XML-RPC array of strings.
func stringList(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		out = append(out, fmt.Sprint(e))
	}
	return out
}
