// Command bench is terok-gate's clone benchmark; see main.go and
// scripts/bench/gate.sh.
package main
