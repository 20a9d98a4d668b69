package fakemodel

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestStream: a streamed request gets the Messages API's events with the
// answer split over two deltas; the request is recorded.
func TestStream(t *testing.T) {
	s, err := Start("127.0.0.1:0", "FAKE-ANSWER")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	req, _ := http.NewRequest("POST", "http://127.0.0.1:"+strconv.Itoa(s.Port())+"/v1/messages?beta=true", strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("x-api-key", "k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var events, text []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if e, ok := strings.CutPrefix(l, "event: "); ok {
			events = append(events, e)
		}
		if strings.Contains(l, `"text_delta"`) {
			i := strings.Index(l, `"text":"`)
			text = append(text, strings.SplitN(l[i+8:], `"`, 2)[0])
		}
	}
	if got := strings.Join(events, ","); got != "message_start,content_block_start,content_block_delta,content_block_delta,content_block_stop,message_delta,message_stop" {
		t.Fatalf("events %s", got)
	}
	if strings.Join(text, "") != "FAKE-ANSWER" || len(text) != 2 {
		t.Fatalf("text %q", text)
	}
	m := s.Messages()
	if len(m) != 1 || m[0].Header.Get("x-api-key") != "k" || m[0].Body["model"] != "m" || m[0].Path != "/v1/messages?beta=true" {
		t.Fatalf("recorded %+v", m)
	}
}
