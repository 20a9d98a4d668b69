package xmlrpc

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

func open(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// The testdata documents were written by Python's xmlrpc.client, the library
// Debian's supervisorctl uses.
func TestDecodePythonDocuments(t *testing.T) {
	m, params, err := DecodeCall(open(t, "call_multicall.xml"))
	if err != nil || m != "system.multicall" {
		t.Fatalf("%s %v", m, err)
	}
	want := []any{[]any{map[string]any{"methodName": "supervisor.stopProcess", "params": []any{"web", true}}}}
	if !reflect.DeepEqual(params, want) {
		t.Fatalf("params %#v", params)
	}
	m, params, err = DecodeCall(open(t, "call_tail.xml"))
	if err != nil || m != "supervisor.tailProcessStdoutLog" || !reflect.DeepEqual(params, []any{"gate", -1600, 1600}) {
		t.Fatalf("%s %#v %v", m, params, err)
	}
	v, err := DecodeResponse(open(t, "resp_info.xml"))
	if err != nil {
		t.Fatal(err)
	}
	infos := v.([]any)
	if len(infos) != 2 || infos[1].(map[string]any)["pid"] != 43 || infos[0].(map[string]any)["statename"] != "RUNNING" {
		t.Fatalf("%#v", v)
	}
	_, err = DecodeResponse(open(t, "resp_fault.xml"))
	var f *Fault
	if !errors.As(err, &f) || f.Code != 10 || f.String != "BAD_NAME: nope" {
		t.Fatalf("fault %v", err)
	}
	v, err = DecodeResponse(open(t, "resp_log.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := v.([]any)[0]; got != "line1\nesc \x1b[31mred\x1b[0m <tag> & done\n" {
		t.Fatalf("log %q", got)
	}
	v, err = DecodeResponse(open(t, "resp_misc.xml"))
	if err != nil {
		t.Fatal(err)
	}
	mm := v.(map[string]any)
	if mm["f"] != 1.5 || !bytes.Equal(mm["b"].([]byte), []byte{0, 1}) || mm["u"] != "ünï" ||
		!mm["d"].(time.Time).Equal(time.Date(2026, 11, 29, 22, 0, 0, 0, time.UTC)) || len(mm["e"].([]any)) != 0 {
		t.Fatalf("%#v", mm)
	}
}

type info struct {
	Name  string `xmlrpc:"name"`
	PID   int    `xmlrpc:"pid"`
	Skip  string `xmlrpc:"-"`
	Alive bool   `xmlrpc:"alive"`
}

func TestRoundTrip(t *testing.T) {
	in := []any{
		1, -7, true, false, "a<b>&c\x1b[0m", 2.25, []byte("bin"),
		time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC),
		[]string{"x", "y"}, map[string]int{"k": 3},
		info{Name: "gate", PID: 9, Skip: "no", Alive: true}, nil,
	}
	var buf bytes.Buffer
	if err := EncodeCall(&buf, "m.x", in...); err != nil {
		t.Fatal(err)
	}
	m, out, err := DecodeCall(&buf)
	if err != nil || m != "m.x" {
		t.Fatal(m, err)
	}
	want := []any{
		1, -7, true, false, "a<b>&c\x1b[0m", 2.25, []byte("bin"),
		time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC),
		[]any{"x", "y"}, map[string]any{"k": 3},
		map[string]any{"name": "gate", "pid": 9, "alive": true}, nil,
	}
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("got  %#v\nwant %#v", out, want)
	}
	buf.Reset()
	EncodeFault(&buf, &Fault{Code: 70, String: "NOT_RUNNING: web"})
	_, err = DecodeResponse(&buf)
	var f *Fault
	if !errors.As(err, &f) || f.Code != 70 {
		t.Fatal(err)
	}
}

func TestMalformed(t *testing.T) {
	cases := []string{
		"",
		"<methodCall><methodName>x</methodName><params><param><value><int>zz</int></value></param></params></methodCall>",
		"<methodCall><params/></methodCall>",
		"<methodResponse><params/></methodResponse>",
		"<methodCall><methodName>x</methodName><params><param><value><wat/></value></param></params></methodCall>",
		"<methodCall><methodName>x",
	}
	for _, c := range cases {
		if _, _, err := DecodeCall(strings.NewReader(c)); !errors.Is(err, ErrMalformed) {
			if _, err2 := DecodeResponse(strings.NewReader(c)); !errors.Is(err2, ErrMalformed) {
				t.Errorf("%q: want ErrMalformed, got %v / %v", c, err, err2)
			}
		}
	}
}

// Our encoder's output must be readable by Python's xmlrpc.client.
func TestPythonReadsOurResponse(t *testing.T) {
	py := testkit.RequireCommand(t, "python3")
	var buf bytes.Buffer
	EncodeResponse(&buf, []any{info{Name: "web", PID: 3, Alive: true}, "tab\tnl\n<&>"})
	cmd := exec.Command(py, "-c", `import sys, xmlrpc.client as x; v=x.loads(sys.stdin.read())[0][0]; print(v[0]['name'], v[0]['pid'], v[0]['alive'], repr(v[1]))`)
	cmd.Stdin = &buf
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != `web 3 True 'tab\tnl\n<&>'` {
		t.Fatalf("python read %s", got)
	}
}
