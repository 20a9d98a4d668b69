// Package xmlrpc is the XML-RPC codec and client that terok-supervisord and
// supervisorctl speak, compatible with Python's xmlrpc.client as used by
// supervisor 4.2.
//
// Go values map to XML-RPC as follows: integers → <int>, bool → <boolean>,
// string → <string>, floats → <double>, time.Time → <dateTime.iso8601>,
// []byte → <base64>, slices and arrays → <array>, map[string]T and structs
// (fields named by an `xmlrpc:"name"` tag) → <struct>, nil → <nil/>.
// Decoding yields int, bool, string, float64, time.Time, []byte, []any,
// map[string]any and nil.
package xmlrpc
