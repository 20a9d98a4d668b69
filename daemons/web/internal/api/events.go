package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// events is the /api/v1/events WebSocket: every task state change,
// timeline entry and daemon change, and the log lines of the tasks the
// client subscribes to by sending {"logs": ["ID", ...]} (acknowledged
// first, also for no ids). It ends when the client leaves or terok-web
// stops. The Origin must
// be the request's own origin (or one of Deps.Origins): scheme, host and
// port; the TCP listener's auth has checked the token before this runs.
func (a *API) events(w http.ResponseWriter, r *http.Request) {
	if !a.originOK(r) {
		writeErr(w, fail.Forbidden("the events of terok are only for terok's own pages: Origin %s refused", r.Header.Get("Origin")))
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true}) // Origin checked above
	if err != nil {
		return // Accept wrote the error answer
	}
	defer c.CloseNow()
	sub := a.d.Hub.Subscribe(1024)
	defer a.d.Hub.Unsubscribe(sub)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		defer cancel()
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			var s webapi.Subscribe
			if json.Unmarshal(b, &s) == nil {
				// Acknowledged on the subscription's own queue, so the
				// answer comes before any line it asked for.
				if !sub.WatchLogs(webapi.Event{Type: webapi.EventSubscribed, Logs: s.Logs}, s.Logs...) {
					return
				}
			}
		}
	}()
	ping := time.NewTicker(30 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			// The client left, or terok-web stops: the connection ends
			// without a close handshake nobody may answer (a shutdown
			// does not wait for it).
			return
		case <-ping.C:
			pctx, pc := context.WithTimeout(ctx, 10*time.Second)
			err := c.Ping(pctx)
			pc()
			if err != nil {
				return
			}
		case e, ok := <-sub.C:
			if !ok {
				c.Close(websocket.StatusPolicyViolation, "too slow: events were dropped; reconnect and reload")
				return
			}
			b, _ := json.Marshal(e)
			wctx, wc := context.WithTimeout(ctx, 10*time.Second)
			err := c.Write(wctx, websocket.MessageText, b)
			wc()
			if err != nil {
				return
			}
		}
	}
}
