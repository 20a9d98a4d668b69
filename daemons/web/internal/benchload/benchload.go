// Package benchload is the load the benches put on an HTTP API: clients
// concurrent keep-alive clients sending GETs with a bearer token, each
// request's latency kept.
package benchload

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"
)

// GETs runs clients keep-alive clients of n GETs of url each, with token
// as the bearer (timeout per request, 0 for none), and returns every
// latency in milliseconds and the first error (a status other than 200
// counts as one).
func GETs(ctx context.Context, url, token string, clients, n int, timeout time.Duration) ([]float64, error) {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxIdleConns: clients}, Timeout: timeout}
	defer hc.CloseIdleConnections()
	var mu sync.Mutex
	var lat []float64
	var firstErr error
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for range n {
				req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
				req.Header.Set("Authorization", "Bearer "+token)
				t0 := time.Now()
				resp, err := hc.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = errors.New(resp.Status)
					}
				}
				d := float64(time.Since(t0).Microseconds()) / 1000
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				lat = append(lat, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return lat, firstErr
}
