// Package fakeupstream is a stand-in for a provider's API and its OAuth
// token endpoint, for the vault's tests and benchmark: real TLS on
// loopback under a CA made for the run (the vault trusts it through its
// test-only CA setting), recording what arrives. It never reaches a real
// provider.
package fakeupstream
