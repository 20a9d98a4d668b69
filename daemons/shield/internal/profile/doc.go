// Package profile loads allowlist profiles: text files with one domain, IP
// or CIDR per line and # comments. Bundled profiles are compiled in; files
// in <config>/system/shield/profiles/NAME.txt add new profiles or shadow bundled
// ones of the same name.
package profile
