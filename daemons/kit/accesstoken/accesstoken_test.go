package accesstoken

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for tok, want := range map[string]string{
		"terok-web-0123456789abcdef": "",
		"a.b_c~d-e0123456789":        "",
		"short":                      "fewer than 16",
		"with space 0123456789":      "may only hold",
		"slash/0123456789abcdef":     "may only hold",
		"at@0123456789abcdef":        "may only hold",
	} {
		err := Check(tok)
		if (err == nil) != (want == "") || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", tok, err, want)
		}
	}
	a, err := New("terok-web-")
	if err != nil || Check(a) != nil || !strings.HasPrefix(a, "terok-web-") || len(a) != len("terok-web-")+32 {
		t.Fatalf("New: %q %v", a, err)
	}
	if b, _ := New("terok-web-"); a == b {
		t.Fatal("two new tokens are the same")
	}
}
