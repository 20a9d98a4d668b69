// Package taskdns is the resolver each armed task gets inside its own
// network namespace: a DNS server on ResolverAddr:53 (UDP and TCP) that
// forwards only the names its policy allows to one upstream server, and
// hands every allowed answer's addresses to the policy before the answer
// reaches the task.
package taskdns
