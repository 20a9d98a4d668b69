// Package guard is the gate's push policy: which ref updates a push may
// make, decided on the updates git itself is about to apply (its
// pre-receive hook hands them over), and the bookkeeping of branch owners
// once the push is done.
//
// A task token may create branches (outside its default branch and other
// tasks' agent/<id> names) and update or delete the branches its task
// created; it never touches the default branch, tags, or branches made by
// the user or another task. The admin token may do anything. While a push
// is between its check and its bookkeeping, the refs it may change are
// reserved: another push that would change one of them is refused (push
// again), so two pushes creating the same branch leave exactly one owner,
// and an owner record is never read while its branch is changing.
package guard
