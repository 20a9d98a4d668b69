// Package uploadcases holds the table of git upload-pack request bodies
// the gate's tests share (testdata/upload-requests.txt): the smart HTTP
// package checks each against its request checks and against real git,
// and seeds its fuzz target with them; the hostile suite sends each to a
// running gate. Only tests import it.
package uploadcases
