package record_test

import (
	"testing"

	"github.com/cairn-iot/cairn/test/testenv"
)

const mod = "github.com/cairn-iot/cairn/"

// TestLayers keeps the release tree's shape: this package is the bottom, what the release
// produces and reports; the pipeline (package release) imports it and never the stages
// that extend it or check it; the extensions and verification import it and never the
// pipeline. A reverse import would bring back the knot this package undid.
func TestLayers(t *testing.T) {
	for _, tc := range []struct {
		pkg       string
		forbidden []string
		why       string
	}{
		{mod + "release/record", []string{mod + "release", mod + "release/", mod + "images"},
			"the record is the bottom of the release tree; it imports none of it"},
		{mod + "release", []string{mod + "release/verify", mod + "release/audit", mod + "release/signstep",
			mod + "release/packages", mod + "release/bench", mod + "release/push", mod + "release/targets",
			"github.com/google/go-containerregistry/pkg/v1/remote", "net/http"},
			"the pipeline runs the steps it is given; it knows none of them, nor who checks it, nor a network client"},
		{mod + "release/signstep", []string{mod + "release"}, "a step sees a record.Stage, not the pipeline"},
		{mod + "release/packages", []string{mod + "release"}, "a step sees a record.Stage, not the pipeline"},
		{mod + "release/verify", []string{mod + "release"}, "verification rebuilds through cairn-release, not by calling the pipeline"},
		{mod + "release/bench", []string{mod + "release"}, "the bench drives the release command, as a user does"},
		{mod + "release/build", []string{mod + "images"}, "building binaries comes before assembling images"},
	} {
		for _, dep := range testenv.Forbidden(t, tc.pkg, tc.forbidden...) {
			t.Errorf("%s imports %s: %s", tc.pkg, dep, tc.why)
		}
	}
}
