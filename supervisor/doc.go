// Package supervisor is terok-supervisord and its supervisorctl: a
// supervisord-compatible process supervisor that runs the terok daemons.
package supervisor
