package vsa

import (
	"crypto/ecdsa"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cairn-iot/cairn/release/attest"
	"github.com/cairn-iot/cairn/release/sign"
)

// The files of a verdict in a verdicts directory: <name>.intoto.json, the DSSE envelope that
// push adds to the legacy attestations, and <name>.sigstore.json, the same statement as a
// Sigstore bundle that push attaches as a referrer.
const EnvelopeSuffix = ".intoto.json"

// LoadKey reads the verifier's cosign private key from file with password.
func LoadKey(file string, password []byte) (*ecdsa.PrivateKey, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading the verifier's key: %w", err)
	}
	key, err := sign.ParsePrivateKey(data, password)
	if err != nil {
		return nil, fmt.Errorf("reading the verifier's key %s: %w", file, err)
	}
	return key, nil
}

// Write signs v with key and writes its two files into dir, each to a temporary name first
// and renamed, and returns their paths.
func (v Verdict) Write(key *ecdsa.PrivateKey, dir string) ([]string, error) {
	env, err := v.Sign(key)
	if err != nil {
		return nil, err
	}
	st, err := v.Statement()
	if err != nil {
		return nil, err
	}
	bundle, err := sign.NewBundle(key, st)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	for _, f := range []struct {
		name string
		data []byte
	}{{v.Name + EnvelopeSuffix, append(env, '\n')}, {v.Name + attest.BundleSuffix, bundle}} {
		path := filepath.Join(dir, f.name)
		if err := os.WriteFile(path+".tmp", f.data, 0o644); err != nil {
			return files, err
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			return files, err
		}
		files = append(files, path)
	}
	return files, nil
}
