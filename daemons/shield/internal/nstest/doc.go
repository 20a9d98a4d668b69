// Package nstest builds throwaway network topologies for the privileged
// tests: a "task" namespace joined by a veth pair to an "internet"
// namespace on TEST-NET addresses, with helpers to listen and dial inside
// either. Every namespace is named tks2-… and removed at test cleanup.
package nstest
