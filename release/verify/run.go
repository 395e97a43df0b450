package verify

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/cairn-iot/cairn/release/record"
	"github.com/cairn-iot/cairn/release/source"
)

// Options are the inputs of Run, resolved at the edge (cairn-release verify).
type Options struct {
	// ModuleDir is the released module; DistDir its dist/.
	ModuleDir, DistDir string
	// Rebuilder rebuilds in the clean room; its Work is set by Run.
	Rebuilder SelfRebuild
	// Getenv reads the release's public key (PublicKey) and CAIRN_VSA_PASSWORD.
	Getenv func(string) string
	// JSONOut receives the report as JSON (default <DistDir>.verify.json).
	JSONOut string
	// VSAKey, when set, is the cosign key that signs a rebuild verdict per image rebuilt
	// bit for bit, into VSAOut (default <DistDir>.vsa), with VerifierID.
	VSAKey, VSAOut, VerifierID string
	// Log receives progress lines and the rebuild's output.
	Log io.Writer
}

// Run is `cairn-release verify`: check that the tree is still the recorded commit, rebuild
// in a clean room and compare (CleanRoom), audit the evidence beside the images (Evidence)
// with the release's public key (PublicKey), write the JSON report and, with a VSA key, a
// signed rebuild verdict (package vsa) for each image rebuilt bit for bit. The report
// (record.Report: PASS, FAIL and SKIP lines as text, and JSON) is returned whether it passes
// or not; the error is for what kept the verification from running.
func Run(ctx context.Context, o Options) (*record.Report, error) {
	rec, err := record.Load(filepath.Join(o.DistDir, record.File))
	if err != nil {
		return nil, fmt.Errorf("%w (run `go tool mage release` first)", err)
	}
	// The clean room copies the tree as it is now: it must still be the recorded commit.
	if info, err := source.Resolve(ctx, source.ExecGit, o.ModuleDir, ""); err == nil && info.Commit != rec.Commit {
		return nil, fmt.Errorf("%s was released from commit %s, the tree at %s is at %s; check out %s (or rerun the release) before verifying", o.DistDir, rec.Commit, o.ModuleDir, info.Commit, rec.Commit)
	}
	work, err := os.MkdirTemp("", "cairn-verify-")
	if err != nil {
		return nil, fmt.Errorf("creating the clean room: %w", err)
	}
	defer os.RemoveAll(work)
	o.Rebuilder.Work, o.Rebuilder.Log = work, o.Log
	rep, err := CleanRoom(ctx, o.ModuleDir, o.DistDir, work, rec, o.Rebuilder.Rebuild)
	if err != nil {
		return nil, err
	}
	// Then the evidence the clean room cannot rebuild: dist/cosign audited with the release's
	// public key, dist/attestations against its payloads.
	var key Key
	key.K, key.From, key.Err = PublicKey(o.Getenv, o.ModuleDir)
	if key.K != nil {
		fmt.Fprintf(o.Log, "verify: auditing dist/cosign with %s\n", key.From)
	}
	Merge(rep, Evidence(ctx, o.DistDir, rec, key))
	if o.JSONOut == "" {
		o.JSONOut = o.DistDir + ".verify.json"
	}
	b, err := rep.JSON()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(o.JSONOut, append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("writing the JSON report: %w", err)
	}
	if o.VSAKey != "" {
		if o.VSAOut == "" {
			o.VSAOut = o.DistDir + ".vsa"
		}
		if err := o.writeVerdicts(rep, rec, work); err != nil {
			return nil, err
		}
	}
	return rep, nil
}
