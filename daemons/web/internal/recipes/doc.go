// Package recipes holds agent recipes: one YAML file per coding agent
// (Claude Code, Codex, Gemini CLI, OpenCode, or the user's own) saying
// which package installs it and at which version or range, the extra
// install steps per base family, its binary, how to run it headless with a
// task's prompt and interactively, the environment that switches its
// non-essential traffic off, the hosts it reaches besides its model
// provider, and what the credential vault needs to serve it.
//
// Shipped recipes are compiled in; a file <config>/agents/NAME.yml adds a
// recipe or shadows the shipped one of that name. A file with an error is
// refused with file:line, what is wrong and the fix.
package recipes
