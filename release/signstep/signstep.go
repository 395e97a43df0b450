// Package signstep is the release step that signs and attests every image of a release:
// for each service it writes dist/cosign/<svc> (cosign's layout: the index, its signature and
// attestations, and those of each platform manifest) and dist/attestations/<svc> (the SBOMs
// and provenance statements as plain JSON). It runs in the staging directory, so a failure
// leaves dist/ as it was, and it writes nothing that verify compares.
package signstep

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/cairn-iot/cairn/lock"
	"github.com/cairn-iot/cairn/release/attest"
	"github.com/cairn-iot/cairn/release/record"
	"github.com/cairn-iot/cairn/release/sign"
)

// DevKeyDir is where the development key pair lives, relative to the module (git-ignored).
const DevKeyDir = ".cairn/keys"

// Keys says which key signs; it is read from the environment at the edge.
type Keys struct {
	// KeyFile is COSIGN_KEY, a cosign private key file; "" means the development key pair
	// in <module>/.cairn/keys, created on first use with an empty password.
	KeyFile string
	// Password is COSIGN_PASSWORD.
	Password string
}

// KeysFromEnv reads COSIGN_KEY and COSIGN_PASSWORD.
func KeysFromEnv(getenv func(string) string) Keys {
	return Keys{KeyFile: getenv("COSIGN_KEY"), Password: getenv("COSIGN_PASSWORD")}
}

// Files are the files the key is read from (COSIGN_KEY, else the development private key):
// a release's ExtraInputs, so a new key makes dist/ out of date (record.InputsFile).
func (k Keys) Files(moduleDir string) []string {
	if k.KeyFile != "" {
		return []string{k.KeyFile}
	}
	return []string{filepath.Join(moduleDir, filepath.FromSlash(DevKeyDir), "cosign.key")}
}

// Load returns the signing key. With no KeyFile it uses (and on first use creates) the
// development key pair in moduleDir/.cairn/keys and says so on log.
func (k Keys) Load(moduleDir string, logf func(string, ...any)) (*ecdsa.PrivateKey, error) {
	if k.KeyFile != "" {
		data, err := os.ReadFile(k.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("reading COSIGN_KEY: %w", err)
		}
		key, err := sign.ParsePrivateKey(data, []byte(k.Password))
		if err != nil {
			return nil, fmt.Errorf("COSIGN_KEY %s: %w", k.KeyFile, err)
		}
		return key, nil
	}
	key, pub, created, err := sign.DevKeyPair(filepath.Join(moduleDir, filepath.FromSlash(DevKeyDir)))
	if err != nil {
		return nil, err
	}
	if created {
		logf("signing: COSIGN_KEY is not set; created a development key pair (empty password, git-ignored); public key: %s", pub)
	} else {
		logf("signing: COSIGN_KEY is not set; signing with the development key; public key: %s", pub)
	}
	return key, nil
}

// Identity is the repository written into signature payloads (cosign does not check it).
func Identity(svc string) string { return record.DefaultRepository + "/" + svc }

// BundlesDir is the directory of dist/ holding each image's Sigstore bundles, one file per
// signature and attestation (attest.Bundle), that push attaches as OCI 1.1 referrers.
const BundlesDir = "bundles"

// Step returns the release step that signs and attests with keys.
func Step(keys Keys) record.Step {
	return func(ctx context.Context, s *record.Stage) error {
		logf := func(format string, args ...any) { fmt.Fprintf(s.Log, format+"\n", args...) }
		key, err := keys.Load(s.ModuleDir, logf)
		if err != nil {
			return fmt.Errorf("signing: %w", err)
		}
		b, err := BuildOf(s)
		if err != nil {
			return fmt.Errorf("signing: %w", err)
		}
		for _, svc := range s.Services {
			if err := ctx.Err(); err != nil {
				return err
			}
			idx, ok := s.Indexes[svc.Name]
			if !ok {
				return fmt.Errorf("signing: no image index for service %s", svc.Name)
			}
			a, err := attest.Attach(key, b, svc.Name, Identity(svc.Name), idx)
			if err != nil {
				return fmt.Errorf("signing: %w", err)
			}
			layoutDir := filepath.Join(s.Dir, "cosign", svc.Name)
			if err := sign.WriteLayout(layoutDir, svc.Name, idx, a.Evidence); err != nil {
				return fmt.Errorf("signing %s: %w", svc.Name, err)
			}
			// The image's own blobs are dist/oci's: kept once, hard-linked.
			if _, err := sign.LinkBlobs(layoutDir, filepath.Join(s.Dir, "oci")); err != nil {
				return fmt.Errorf("signing %s: %w", svc.Name, err)
			}
			dir := filepath.Join(s.Dir, "attestations", svc.Name)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("signing %s: %w", svc.Name, err)
			}
			for _, f := range a.Files {
				if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
					return fmt.Errorf("signing %s: %w", svc.Name, err)
				}
			}
			bdir := filepath.Join(s.Dir, BundlesDir, svc.Name)
			if err := os.MkdirAll(bdir, 0o755); err != nil {
				return fmt.Errorf("signing %s: %w", svc.Name, err)
			}
			for _, b := range a.Bundles {
				if err := os.WriteFile(filepath.Join(bdir, b.Name), b.Data, 0o644); err != nil {
					return fmt.Errorf("signing %s: %w", svc.Name, err)
				}
			}
			d, _ := idx.Digest()
			logf("signed %s %s: dist/cosign/%s, dist/attestations/%s, dist/bundles/%s", svc.Name, d, svc.Name, svc.Name, svc.Name)
		}
		return nil
	}
}

// BuildOf turns a release stage into the provenance's build description.
func BuildOf(s *record.Stage) (attest.Build, error) {
	b := attest.Build{
		Repository: s.Record.Source, Commit: s.Commit, Version: s.Version, Target: "release",
		Epoch: s.Epoch, LockFile: lock.File, Toolchain: s.Record.Toolchain,
		Compressor: fmt.Sprintf("%s@%s level %d", s.Record.Compressor.Module, s.Record.Compressor.Version, s.Record.Compressor.Level),
	}
	seen := map[string]bool{}
	for _, img := range s.Record.Images {
		for _, p := range img.Platforms {
			if !seen[p.Platform] {
				seen[p.Platform] = true
				b.Platforms = append(b.Platforms, p.Platform)
			}
		}
	}
	data, err := os.ReadFile(filepath.Join(s.ModuleDir, filepath.FromSlash(lock.File)))
	switch {
	case err == nil:
		sum := sha256.Sum256(data)
		b.LockSHA256 = hex.EncodeToString(sum[:])
	case errors.Is(err, os.ErrNotExist) && s.Lock == nil:
		// A fixture module without a lock: nothing to record.
	default:
		return attest.Build{}, fmt.Errorf("reading the lock file: %w", err)
	}
	if s.Lock != nil {
		// The archive that ran is the host's: record the one the pinned toolchain came from.
		a, err := s.Lock.Archive(runtime.GOOS, runtime.GOARCH)
		if err != nil {
			return attest.Build{}, err
		}
		b.ToolchainURI = a.URL
		b.ToolchainSHA256 = strings.TrimPrefix(a.ZipSHA256, "sha256:")
	}
	return b, nil
}
