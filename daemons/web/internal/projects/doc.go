// Package projects holds terok's project definitions: one project.yml per
// project under $TEROK_CONFIG_DIR/projects/<name>/, plus the global
// config.yml that supplies defaults. Files are validated on load and on
// save with messages naming the file, the field and the fix; keys this
// version does not know are reported and kept when the file is rewritten.
package projects
