// Package config reads supervisord ini files the way Python supervisord 4.2
// does: [include] files merged key by key in sorted order, %(ENV_X)s,
// %(here)s, %(program_name)s, %(process_num)d expansion, and validation of
// every program before anything starts.
package config
