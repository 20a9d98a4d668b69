// Package names validates project, task and branch names.
package names
