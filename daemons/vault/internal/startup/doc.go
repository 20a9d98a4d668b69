// Package startup does what the vault must do before it serves, some of
// it as root: find the user it runs as, make and check its two
// directories (<config>/system/vault for the key and root's providers,
// <state>/system/vault for the store; owned by that user, mode 0700,
// never a symlink, never another user's), hand the socket to the group
// that may call it, and drop root for good.
package startup
