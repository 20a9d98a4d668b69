// Package shieldapi holds the wire types of terok-shield's socket API and a
// small typed client for it. It depends only on the kit and the standard
// library, so other daemons (terok-web) import this package and never build
// the JSON by hand.
package shieldapi
