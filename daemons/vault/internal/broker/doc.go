// Package broker is the credential broker: a plain-HTTP reverse proxy
// (net/http/httputil.ReverseProxy, streaming without buffering) that tasks
// reach at http://<broker>/<provider>/<the provider's path>. For each
// request it finds the phantom token where the provider's clients send
// their key, checks that the phantom is live, belongs to this provider and
// allows this method and path, strips every credential header the agent
// sent, puts the real credential in the provider's header, and forwards
// the request over verified TLS to the provider's upstream. Every request
// of a task is audited. A refusal is a JSON body saying why: 401 for a
// missing, unknown, revoked or foreign phantom, 403 for a route outside
// the provider's list.
//
// The listener's settings (timeouts, sizes, connection bound) live in
// listener.go, in one place.
package broker
