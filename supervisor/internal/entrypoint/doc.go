// Package entrypoint holds what the terok image's entrypoint decides before
// it hands over to terok-supervisord: supervisor overrides given as
// TEROK_SUPERVISOR__<PROGRAM>__<KEY> environment variables, the gate admin
// and web access tokens (from the environment, else kept in the state
// volume), the ownership and modes of the mounted volumes (with their
// root-owned system/ subtrees), of the run and log directories and of the
// devices, and the start-up banner. Root works there among files the
// unprivileged user owns, so nothing here follows a symlink it did not
// expect.
package entrypoint
