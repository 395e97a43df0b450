package verify

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cairn-iot/cairn/release/record"
	"github.com/cairn-iot/cairn/release/vsa"
)

// writeVerdicts writes the verdicts of a verify whose clean room was work, and names them.
func (o *Options) writeVerdicts(rep *record.Report, rec *record.Release, work string) error {
	rebuilt, err := record.Load(filepath.Join(work, "dist", record.File))
	if err != nil {
		return err
	}
	files, err := o.verdicts(rep, rec, rebuilt, time.Now())
	if err != nil {
		return err
	}
	for _, f := range files {
		fmt.Fprintf(o.Log, "verify: rebuild verdict %s\n", f)
	}
	return nil
}

// verdicts writes a signed rebuild verdict (package vsa) into o.VSAOut for each image of
// rec that the rebuild (its record: rebuilt) made bit for bit, as the report's image checks
// say, signed with the verifier's key o.VSAKey (a cosign private key; password in
// CAIRN_VSA_PASSWORD). A dirty release gets none: it is not what its commit builds. It
// returns the files written.
func (o *Options) verdicts(rep *record.Report, rec, rebuilt *record.Release, now time.Time) ([]string, error) {
	if rec.Dirty {
		return nil, fmt.Errorf("no rebuild verdicts: release %s was built from a dirty tree, not from commit %s alone", rec.Version, rec.Commit)
	}
	key, err := vsa.LoadKey(o.VSAKey, []byte(o.Getenv("CAIRN_VSA_PASSWORD")))
	if err != nil {
		return nil, fmt.Errorf("%w (password from CAIRN_VSA_PASSWORD)", err)
	}
	again := map[string]string{}
	for _, im := range rebuilt.Images {
		again[im.Name] = im.Index
	}
	if err := os.MkdirAll(o.VSAOut, 0o755); err != nil {
		return nil, err
	}
	var written []string
	for _, im := range rec.Images {
		if !imagePassed(rep, im.Name) {
			fmt.Fprintf(o.Log, "verify: no rebuild verdict for %s: it did not rebuild bit for bit\n", im.Name)
			continue
		}
		v := vsa.Verdict{Name: im.Name, Repository: record.DefaultRepository, Commit: rec.Commit, Toolchain: rec.Toolchain,
			VerifierID: o.VerifierID, Time: now}
		if v.Index, err = v1.NewHash(im.Index); err != nil {
			return written, err
		}
		if v.Rebuilt, err = v1.NewHash(again[im.Name]); err != nil {
			return written, fmt.Errorf("the rebuild's record has no index for %s: %w", im.Name, err)
		}
		for _, p := range im.Platforms {
			h, err := v1.NewHash(p.Manifest)
			if err != nil {
				return written, err
			}
			v.Manifests = append(v.Manifests, h)
		}
		files, err := v.Write(key, o.VSAOut)
		written = append(written, files...)
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// imagePassed reports whether every check of the image called name passed (and there was one).
func imagePassed(rep *record.Report, name string) bool {
	n := 0
	for _, c := range rep.Checks {
		if c.Name == "image "+name || strings.HasPrefix(c.Name, "image "+name+" ") {
			if !c.Pass || c.Skipped {
				return false
			}
			n++
		}
	}
	return n > 0
}
