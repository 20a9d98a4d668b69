// Package overview is the first screen's content: what needs the user
// across projects — branches waiting for review, the shield's open
// decisions (blocked connections and refused lookups of running tasks),
// failed tasks of the last day that the user has not dismissed, and the
// running tasks. Dismissals are kept in one file, written atomically.
package overview
