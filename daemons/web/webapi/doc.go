// Package webapi is the typed client of terok-web and its wire types: the
// REST API under /api/v1/ on web.sock (trusted by its file mode) or on the
// TCP listener with a bearer token. The client is kit/unixhttp's, so its
// errors match unixhttp's sentinels; its streams (Logs, Audit, Events) are
// iter.Seq2 iterators. The wire types are the API's, not terok-web's files:
// task.json and project.yml have their own (packages tasks and projects).
// The terok CLI and the tests use it.
package webapi
