// Package entrypoint holds what the terok image's entrypoint decides before
// it hands over to terok-supervisord: supervisor overrides given as
// TEROK_SUPERVISOR__<PROGRAM>__<KEY> environment variables, the gate admin
// and web access tokens (from the environment, else kept in the state
// volume), the ownership and modes of the mounted volumes and devices, and
// the start-up banner.
package entrypoint
