package webproxy

import (
	"testing"
	"time"
)

// TestTicketLive: Live tells a ticket of the task that has not run out,
// without using it up (the listener's limits ask before the handler
// redeems it); another task's ticket, a used one and an expired one are
// not live.
func TestTicketLive(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tk := NewTickets(time.Minute, func() time.Time { return now })
	v, _, err := tk.Mint("task01", "")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // twice: Live does not use it up
		if !tk.Live(v, "task01") {
			t.Fatalf("a fresh ticket is not live (asked %d times)", i+1)
		}
	}
	if tk.Live(v, "task02") || tk.Live("", "task01") || tk.Live(v+"x", "task01") {
		t.Fatal("another task's, an empty or a made-up ticket is live")
	}
	if _, ok := tk.Redeem(v, "task01"); !ok {
		t.Fatal("the ticket did not redeem after Live")
	}
	if tk.Live(v, "task01") {
		t.Fatal("a used ticket is live")
	}
	w, _, _ := tk.Mint("task01", "")
	now = now.Add(time.Minute)
	if tk.Live(w, "task01") {
		t.Fatal("an expired ticket is live")
	}
}
