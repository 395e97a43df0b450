// Package release is Cairn's release pipeline (Run): lock check, build, images and steps
// into a staging directory, swapped in as dist/ at the end. Every input is a value in
// Options, resolved at the edge (release/cmd/cairn-release); nothing here reads the clock or
// the environment.
package release
