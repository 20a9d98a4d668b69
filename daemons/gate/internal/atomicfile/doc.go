// Package atomicfile replaces files so a reader sees the old or the new
// content, never a half-written one.
package atomicfile
