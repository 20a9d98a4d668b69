// Package images builds a project's task image in layers through Podman's
// build API: the project's base image as it is, an agents layer (Node.js
// from the base's own packages, npm from the npm registry, then each
// selected agent recipe at a version resolved when the build runs) and a
// project layer (the user's Containerfile snippet). Each built layer's tag
// and its terok.hash label carry a hash of exactly what went into it
// (the parent image's id, the generated Containerfile with the resolved
// versions, the recipe files, the snippet), so an unchanged layer is found
// in Podman's image list and reused instead of rebuilt.
//
// The host's CA bundle reaches every fetching step as a build secret,
// never a layer. Progress comes as Events through a callback; a failed
// step is reported with its last output lines, and the project's image
// (ProjectRef) keeps naming the previous good build.
package images
