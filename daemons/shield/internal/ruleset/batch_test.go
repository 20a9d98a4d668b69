package ruleset_test

import (
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/iprange"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/ruleset"
)

// The batch tier runs without root: google/nftables' test dialer records
// the netlink batch a Spec turns into, and the decoded batch is compared
// with testdata/<case>.golden. The goldens are written by this test with
// -update from our own code; what they pin is that the batch does not
// change unnoticed. That the batch means what we want is the job of the
// namespace tier (ruleset_ns_test.go, the daemon tests), which loads the
// same specs into a real kernel and dials through them.
var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current batches")

// recorder is an nftables connection whose batches are kept, decoded.
type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func newRecorder(t *testing.T) (*nftables.Conn, *recorder) {
	t.Helper()
	r := &recorder{}
	c, err := nftables.New(nftables.WithTestDial(func(req []netlink.Message) ([]netlink.Message, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, m := range req {
			if s := decode(m); s != "" {
				r.msgs = append(r.msgs, s)
			}
		}
		return req, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	return c, r
}

func (r *recorder) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.msgs, "\n") + "\n"
}

var msgNames = map[uint16]string{
	unix.NFT_MSG_NEWTABLE: "NEWTABLE", unix.NFT_MSG_DELTABLE: "DELTABLE",
	unix.NFT_MSG_NEWCHAIN: "NEWCHAIN", unix.NFT_MSG_NEWRULE: "NEWRULE",
	unix.NFT_MSG_NEWSET: "NEWSET", unix.NFT_MSG_NEWSETELEM: "NEWSETELEM", unix.NFT_MSG_DELSETELEM: "DELSETELEM",
}

// decode prints one message of a batch (begin and end markers are skipped).
func decode(m netlink.Message) string {
	if m.Header.Type>>8 != unix.NFNL_SUBSYS_NFTABLES || len(m.Data) < 4 {
		return ""
	}
	t := uint16(m.Header.Type) & 0xff
	name, ok := msgNames[t]
	if !ok {
		name = fmt.Sprintf("MSG%d", t)
	}
	return name + " " + attrs(m.Data[4:], t, 0)
}

// attrs prints a netlink attribute list; strings as strings, nested lists
// recursively, everything else as hex. Set ids (allocated from a process
// wide counter) are left out so the text does not depend on test order.
func attrs(b []byte, msg uint16, depth int) string {
	var parts []string
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b[0:2]))
		typ := binary.NativeEndian.Uint16(b[2:4])
		if l < 4 || l > len(b) {
			break
		}
		v := b[4:l]
		nested := typ&unix.NLA_F_NESTED != 0
		typ &^= unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER
		skip := (msg == unix.NFT_MSG_NEWSET && depth == 0 && typ == unix.NFTA_SET_ID) ||
			(msg == unix.NFT_MSG_NEWSETELEM && depth == 0 && typ == unix.NFTA_SET_ELEM_LIST_SET_ID) ||
			(msg == unix.NFT_MSG_NEWRULE && depth == 3 && typ == unix.NFTA_LOOKUP_SET_ID)
		if !skip {
			switch {
			case nested && (len(v) == 0 || attrs(v, msg, depth+1) != ""):
				parts = append(parts, fmt.Sprintf("%d:{%s}", typ, attrs(v, msg, depth+1)))
			case printable(v):
				parts = append(parts, fmt.Sprintf("%d:%q", typ, strings.TrimRight(string(v), "\x00")))
			default:
				parts = append(parts, fmt.Sprintf("%d:%s", typ, hex.EncodeToString(v)))
			}
		}
		step := (l + 3) &^ 3
		if step > len(b) {
			break
		}
		b = b[step:]
	}
	return strings.Join(parts, " ")
}

func printable(v []byte) bool {
	s := strings.TrimRight(string(v), "\x00")
	if len(s) < 2 || len(v)-len(s) != 1 {
		return false
	}
	for _, c := range s {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update once to write it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("batch of %s differs from %s:\n%s", name, p, lineDiff(string(want), got))
	}
}

func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out []string
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			out = append(out, fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, a, b))
		}
	}
	return strings.Join(out, "\n")
}

func TestBatch(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ep := []ruleset.Endpoint{{Addr: netip.MustParseAddr("169.254.1.2"), Proto: "tcp", Port: 9418}}
	allow := []iprange.Range{pr("203.0.113.0/30"), pr("2001:db8::/32"),
		{Lo: netip.MustParseAddr("198.51.100.7"), Hi: netip.MustParseAddr("198.51.100.7"), Expires: now.Add(90 * time.Second)}}
	answers := []iprange.Range{{Lo: netip.MustParseAddr("192.0.2.9"), Hi: netip.MustParseAddr("192.0.2.9"), Expires: now.Add(5 * time.Minute)}}
	cases := []struct {
		name string
		spec ruleset.Spec
	}{
		{"up-resolver", ruleset.Spec{Mode: ruleset.ModeUp, Endpoints: ep, Allow: allow, Deny: []iprange.Range{pr("203.0.113.1/32")},
			Inbound: []uint16{7860}, LogGroup: 7318, Answers: answers, TaskResolver: true, Receipts: true}},
		{"up-container-dns", ruleset.Spec{Mode: ruleset.ModeUp, LogGroup: 7318,
			Endpoints: append(ep, ruleset.Endpoint{Addr: netip.MustParseAddr("10.0.2.3"), Proto: "udp", Port: 53})}},
		{"down", ruleset.Spec{Mode: ruleset.ModeDown, Endpoints: ep, Allow: allow[:1], LogGroup: 7318, TaskResolver: true}},
		{"block", ruleset.Spec{Mode: ruleset.ModeBlock, Endpoints: ep, Allow: allow[:1], LogGroup: 7318, TaskResolver: true}},
		{"open", ruleset.Spec{Mode: ruleset.ModeOpen, LogGroup: 7318,
			Endpoints: append(ep, ruleset.Endpoint{Addr: netip.MustParseAddr("10.0.2.3"), Proto: "udp", Port: 53}),
			HostSide:  []iprange.Range{pr("10.0.2.0/24"), pr("169.254.0.0/16"), pr("fe80::/10")}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, rec := newRecorder(t)
			if err := ruleset.Build(conn, c.spec, now); err != nil {
				t.Fatal(err)
			}
			if err := conn.Flush(); err != nil {
				t.Fatal(err)
			}
			golden(t, c.name, rec.text())
		})
	}
	// The rules that must hold whatever the golden says.
	conn, rec := newRecorder(t)
	if err := ruleset.Build(conn, cases[0].spec, now); err != nil {
		t.Fatal(err)
	}
	if err := conn.Flush(); err != nil {
		t.Fatal(err)
	}
	txt := rec.text()
	for _, want := range []string{`2:"dns4"`, `2:"dns6"`, `1:"limit"`, `"tks-conn"`} {
		if !strings.Contains(txt, want) {
			t.Errorf("the resolver's batch lacks %s", want)
		}
	}
	if strings.Contains(txt, "0a000203") { // 10.0.2.3: no container resolver with the task resolver
		t.Error("the container resolver is an endpoint although the task resolver is on")
	}
}

// TestUpdateAnswersBatch: renewing an answer is its delete and its add in
// one batch; a lapsed answer is not added.
func TestUpdateAnswersBatch(t *testing.T) {
	conn, rec := newRecorder(t)
	a := netip.MustParseAddr("192.0.2.9")
	b := netip.MustParseAddr("2001:db8::9")
	late := time.Now().Add(-time.Second)
	err := ruleset.UpdateAnswers(conn, []iprange.Range{{Lo: a, Hi: a}},
		[]iprange.Range{{Lo: a, Hi: a, Expires: time.Now().Add(time.Hour)}, {Lo: b, Hi: b, Expires: late}})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(rec.text()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "DELSETELEM") || !strings.HasPrefix(lines[1], "NEWSETELEM") ||
		!strings.Contains(lines[0], "c0000209") || !strings.Contains(lines[1], "c0000209") || strings.Contains(rec.text(), "20010db8") {
		t.Fatalf("batch:\n%s", rec.text())
	}
}
